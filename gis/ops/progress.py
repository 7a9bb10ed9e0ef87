"""Progress of a warning: acknowledgments and who is overdue, each grid's status, shelter occupancy, the timeline.

Everything is derived from the warning's snapshot and its entries not superseded (never from stored
counters), as of a time ``at`` (default now: only entries that happened by then count, so the same
call replays any moment of the event):

- a **contact** is acknowledged by their latest acknowledgment; one not acknowledged once the
  warning's deadline for its level has passed (red shorter than blue, :data:`layers.events.ACK_MINUTES`,
  configurable) is **overdue**, with the person one level up to escalate to;
- a **grid's** people moved, refusing and absent are its latest report-back; its status is
  ``problem`` (someone refuses or is absent/unreachable), else ``done`` (everyone moved), else
  ``moving`` (someone moved), else ``acknowledged`` (its responsible person acknowledged), else
  ``warned``;
- a **shelter's** occupancy is the sum of its check-ins; it is **full** at its capacity and
  **filling** from :data:`FILLING_SHARE` of it; people **in transit** (moved, planned to it, not yet
  checked in) are counted apart;
- **unplaced** people: those still to move (everyone not moved nor absent) beyond the spare capacity of
  the usable shelters (capacity less occupancy and in-transit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd

from gis.ops.callout import contact_keys
from layers.events import Snapshot, Warning, parse_time, to_datetime, to_iso
from layers.text import Text

__all__ = ["Progress", "progress", "occupancy", "FILLING_SHARE", "grid_status"]

#: a shelter is "filling" from this share of its capacity (and "full" at 100 %)
FILLING_SHARE = 0.9


@dataclass
class Progress:
    """Where a warning stands at time ``at``.

    Attributes
    ----------
    warning : Warning
    at : str
        ISO 8601 UTC.
    totals : dict
        ``grids``, ``contacts``, ``acknowledged``, ``overdue``, ``people_to_move``, ``people_moved``,
        ``people_refused``, ``people_absent``, ``people_remaining``, ``people_checked_in``,
        ``people_in_transit``, ``people_unplaced``, ``shelters_full``, ``shelters_filling``,
        ``grids_done``, ``grids_problem``, ``by_status`` (status -> grids), ``deadline_minutes``.
    grids : DataFrame
        The warning's grids with ``moved``, ``refused``, ``absent``, ``remaining``, ``reported_at``,
        ``reported_by``, ``acknowledged``, ``status``.
    contacts : DataFrame
        The call-out list with ``acknowledged``, ``acked_at``, ``acked_by``, ``ack_event``,
        ``overdue``, ``minutes_late``.
    shelters : DataFrame
        Every shelter with ``checked_in``, ``households_in``, ``vulnerable_in``, ``in_transit``,
        ``occupancy`` (share of capacity), ``spare``, ``full``, ``filling``.
    townships : DataFrame
        Per township: grids, grids per status, people to move, moved, refused, absent, remaining,
        contacts, acknowledged, overdue, checked in (at the township's shelters).
    timeline : DataFrame
        ``at`` and the cumulative ``acknowledged``, ``people_moved``, ``people_checked_in`` after
        each entry (first row: the warning, all zero).
    notes : list of Text
    """

    warning: Warning
    at: str
    totals: dict
    grids: pd.DataFrame
    contacts: pd.DataFrame
    shelters: pd.DataFrame
    townships: pd.DataFrame
    timeline: pd.DataFrame
    notes: list[Text] = field(default_factory=list)

    def summary(self) -> dict:
        """The totals as plain JSON-able values, with the warning's id and level."""
        return {"warning_id": self.warning.warning_id, "level": self.warning.level, "at": self.at, **self.totals}


def grid_status(people: np.ndarray, moved: np.ndarray, refused: np.ndarray, absent: np.ndarray,
                acknowledged: np.ndarray) -> np.ndarray:
    """Status per grid (see the module docstring)."""
    people = np.asarray(people)
    return np.select([(refused > 0) | (absent > 0), (moved >= people) & (people > 0), moved > 0, acknowledged],
                     ["problem", "done", "moving", "acknowledged"], "warned").astype(object)


def _active(entries: pd.DataFrame, kind: str, at: str) -> pd.DataFrame:
    e = entries[(entries["kind"] == kind) & entries["active"] & (entries["at"] <= at)]
    return e.sort_values(["at", "event_id"], kind="stable")


def occupancy(shelters: pd.DataFrame, entries: pd.DataFrame, *, at: str | None = None) -> pd.DataFrame:
    """``shelters`` (a warning's, :attr:`layers.events.Snapshot.shelters`) with the people, households and
    vulnerable people of their active check-ins up to ``at`` (default now): ``checked_in``, ``households_in``,
    ``vulnerable_in``. What a dispatch needs, without the grids and contacts of :func:`progress`."""
    ins = _active(entries, "checkin", parse_time(at))
    s = shelters.copy()
    by = ins.groupby("subject") if len(ins) else None
    for col, field_ in (("checked_in", "people"), ("households_in", "households"), ("vulnerable_in", "vulnerable")):
        s[col] = s["shelter_id"].map(by[field_].sum()).fillna(0).astype("int64") if by is not None else 0
    return s


def progress(snap: Snapshot, entries: pd.DataFrame, *, at: str | None = None,
             ack_minutes: dict | None = None, filling_share: float = FILLING_SHARE) -> Progress:
    """Derive where warning ``snap`` stands from its ``entries`` (:meth:`layers.events.OpsLog.entries`).

    Parameters
    ----------
    snap : Snapshot
        The warning and what it covered.
    entries : DataFrame
        Its entries (superseded ones are ignored).
    at : str, optional
        The moment (ISO 8601, see :func:`layers.events.parse_time`); default now.
    ack_minutes : dict, optional
        Minutes to acknowledge per level, overriding those the warning was issued with.
    filling_share : float
        Occupancy from which a shelter is reported as filling.
    """
    w = snap.warning
    at = parse_time(at)
    notes: list[Text] = []
    minutes = {**w.ack_minutes, **(ack_minutes or {})}
    deadline_min = float(minutes.get(w.level, w.deadline_minutes))
    deadline = to_datetime(w.issued_at) + timedelta(minutes=deadline_min)
    now = to_datetime(at)

    # acknowledgments
    acks = _active(entries, "ack", at).drop_duplicates("subject", keep="last").set_index("subject")
    c = snap.contacts.copy()
    c["acknowledged"] = c["contact_id"].isin(acks.index)
    c["acked_at"] = c["contact_id"].map(acks["at"]).astype(object) if len(acks) else None
    c["acked_by"] = c["contact_id"].map(acks["user"]).astype(object) if len(acks) else None
    c["ack_event"] = (c["contact_id"].map(acks["event_id"]) if len(acks) else pd.Series(pd.NA, index=c.index)
                      ).astype("Int64")
    late = max(0.0, (now - deadline).total_seconds() / 60)
    c["overdue"] = ~c["acknowledged"] & (now > deadline)
    c["minutes_late"] = np.where(c["overdue"], round(late, 1), 0.0)
    acked_keys = set(acks.index)
    c["escalate_overdue"] = c["overdue"] & c["escalate_id"].notna() & ~c["escalate_id"].isin(acked_keys)

    # report-backs: the latest report of each grid
    reps = _active(entries, "report", at).drop_duplicates("subject", keep="last").set_index("subject")
    g = snap.grids.copy()
    for col in ("moved", "refused", "absent"):
        g[col] = g["grid_id"].map(reps[col]).fillna(0).astype("int64") if len(reps) else 0
    g["reported_at"] = g["grid_id"].map(reps["at"]) if len(reps) else None
    g["reported_by"] = g["grid_id"].map(reps["user"]) if len(reps) else None
    g["remaining"] = (g["people"] - g["moved"] - g["absent"]).clip(lower=0)
    g["acknowledged"] = np.isin(contact_keys(g["phone"], g["grid_id"]), np.array(sorted(acked_keys), dtype=object))
    g["status"] = grid_status(g["people"].to_numpy(), g["moved"].to_numpy(), g["refused"].to_numpy(),
                              g["absent"].to_numpy(), g["acknowledged"].to_numpy(dtype=bool))

    # check-ins and occupancy
    ins = _active(entries, "checkin", at)
    s = occupancy(snap.shelters, entries, at=at)
    # people moved from grids planned to a shelter and not checked in there yet
    moved_to = g.dropna(subset=["shelter_id"]).groupby("shelter_id")["moved"].sum()
    s["in_transit"] = (s["shelter_id"].map(moved_to).fillna(0) - s["checked_in"]).clip(lower=0).astype("int64")
    cap = s["capacity"].astype("float64")
    s["occupancy"] = np.where(cap > 0, s["checked_in"] / cap.where(cap > 0, 1), np.where(s["checked_in"] > 0, np.inf,
                                                                                         0.0))
    s["full"] = (s["checked_in"] >= cap) & (s["checked_in"] > 0)
    s["filling"] = ~s["full"] & (s["occupancy"] >= filling_share)
    usable = s["usable"].astype(bool)
    s["spare"] = np.where(usable, (cap - s["checked_in"] - s["in_transit"]).clip(lower=0), 0).astype("int64")
    unknown = sorted(set(ins["subject"]) - set(s["shelter_id"])) if len(ins) else []
    if unknown:
        notes.append(Text(f"{len(unknown)} 个签到场所不在场所表中", f"{len(unknown)} check-in shelters are not in the "
                          "shelter table", "checkin_unknown_shelter"))
    over = s[s["full"]]
    for r in over.itertuples(index=False):
        notes.append(Text(f"安置场所 {r.name}（{r.shelter_id}）已满：签到 {r.checked_in} 人，容纳 {r.capacity} 人",
                          f"shelter {r.name} ({r.shelter_id}) is full: {r.checked_in} checked in, capacity "
                          f"{r.capacity}", "shelter_full"))

    remaining = int(g["remaining"].sum())
    spare = int(s["spare"].sum())
    totals = {
        "grids": int(len(g)), "contacts": int(len(c)), "acknowledged": int(c["acknowledged"].sum()),
        "overdue": int(c["overdue"].sum()), "people_to_move": int(g["people"].sum()),
        "people_moved": int(g["moved"].sum()), "people_refused": int(g["refused"].sum()),
        "people_absent": int(g["absent"].sum()), "people_remaining": remaining,
        "people_checked_in": int(s["checked_in"].sum()), "people_in_transit": int(s["in_transit"].sum()),
        "people_unplaced": max(0, remaining - spare), "shelters_full": int(s["full"].sum()),
        "shelters_filling": int(s["filling"].sum()), "grids_done": int((g["status"] == "done").sum()),
        "grids_problem": int((g["status"] == "problem").sum()),
        "by_status": {k: int(v) for k, v in g["status"].value_counts().items()},
        "deadline_minutes": deadline_min, "deadline": to_iso(deadline),
        "closed": bool(((entries["kind"] == "close") & entries["active"] & (entries["at"] <= at)).any()),
    }
    return Progress(w, at, totals, g, c, s, _townships(g, c, s), _timeline(w, entries, at), notes)


def _townships(g: pd.DataFrame, c: pd.DataFrame, s: pd.DataFrame) -> pd.DataFrame:
    key = g["township"].fillna("").replace("", "—")
    out = g.groupby(key).agg(grids=("grid_id", "size"), people_to_move=("people", "sum"), moved=("moved", "sum"),
                             refused=("refused", "sum"), absent=("absent", "sum"), remaining=("remaining", "sum"))
    for st in ("done", "problem"):
        out[f"grids_{st}"] = (g["status"] == st).groupby(key).sum()
    ck = c["township"].fillna("").replace("", "—")
    out["contacts"] = c.groupby(ck).size()
    out["acknowledged"] = c["acknowledged"].groupby(ck).sum()
    out["overdue"] = c["overdue"].groupby(ck).sum()
    sk = s["township"].fillna("").replace("", "—")
    out["checked_in"] = s["checked_in"].groupby(sk).sum()
    out = out.fillna(0).astype("int64")
    out.index.name = "township"
    return out.sort_index()


def _timeline(w: Warning, entries: pd.DataFrame, at: str) -> pd.DataFrame:
    """Cumulative acknowledged contacts, people moved and checked in after each entry, up to ``at``."""
    e = entries[entries["active"] & (entries["at"] <= at) & entries["kind"].isin(["ack", "report", "checkin"])]
    e = e.sort_values(["at", "event_id"], kind="stable")
    if not len(e):
        return pd.DataFrame({"at": [w.issued_at], "acknowledged": [0], "people_moved": [0], "people_checked_in": [0]})
    ack = (e["kind"] == "ack").astype("int64")
    ack = ack.where(~e.duplicated(["kind", "subject"]) | (e["kind"] != "ack"), 0)
    rep = e["kind"] == "report"
    moved = e["moved"].where(rep, 0).fillna(0).astype("int64")
    prev = moved.where(rep).groupby(e["subject"].where(rep)).shift(1).fillna(0).astype("int64")
    delta_moved = (moved - prev).where(rep, 0)
    ci = e["people"].where(e["kind"] == "checkin", 0).fillna(0).astype("int64")
    out = pd.DataFrame({"at": e["at"].to_numpy(), "acknowledged": ack.cumsum().to_numpy(),
                        "people_moved": delta_moved.cumsum().to_numpy(), "people_checked_in": ci.cumsum().to_numpy()})
    start = pd.DataFrame({"at": [w.issued_at], "acknowledged": [0], "people_moved": [0], "people_checked_in": [0]})
    return pd.concat([start, out], ignore_index=True).drop_duplicates("at", keep="last").reset_index(drop=True)
