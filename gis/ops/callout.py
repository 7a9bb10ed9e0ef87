"""The call-out chain (叫应): whom to call, at each level, for a warning over some leaf grids.

From the grid hierarchy (county → township → village → group → household cluster, by
``parent_id``) every leaf grid of the warning brings in the responsible person of itself and of each
grid above it; the shelters the grids go to bring in their responsible persons, and the villages
layer its village heads. One person (one phone number) is one call, whatever the number of grids
they answer for: their **level** is the highest of their roles, the **people they answer for** are
the people of every leaf grid under any of their grids (counted once), and the person to
**escalate to** when they do not acknowledge in time is the responsible person of the grid above
their highest grid (for a shelter or a village head: the township's grid). The list is ordered
top-down (county first), as the chain is called.

A grid without a phone still gets a contact (id ``G:<grid_id>``, no phone), listed as a gap to
fill, so nobody falls out of the chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from layers.catalogue import GRID_LEVEL_RANK
from layers.events import CONTACT_COLUMNS, GRID_COLUMNS, SHELTER_COLUMNS, normalize_phone
from layers.text import Text

__all__ = ["CallOut", "callout_list", "SHELTER_RANK", "contact_key"]

#: rank of shelter contacts in the chain (after the household clusters)
SHELTER_RANK = 6
_MAX_DEPTH = 8


@dataclass
class CallOut:
    """A warning's grids, call-out list and shelters, as the record keeps them.

    Attributes
    ----------
    grids : DataFrame
        :data:`layers.events.GRID_COLUMNS`: the leaf grids with their people and planned shelter.
    contacts : DataFrame
        :data:`layers.events.CONTACT_COLUMNS`: one row per person to call, in calling order (``seq``).
    shelters : DataFrame
        :data:`layers.events.SHELTER_COLUMNS`: every shelter of the workspace, usable or not, with
        the people planned to each.
    notes : list of Text
    """

    grids: pd.DataFrame
    contacts: pd.DataFrame
    shelters: pd.DataFrame
    notes: list[Text] = field(default_factory=list)


def contact_key(phone: object, grid_id: object) -> str:
    """The id of a grid's contact: its normalised phone, or ``G:<grid_id>`` when it has none."""
    p = normalize_phone(phone)
    return p if p else f"G:{grid_id}"


def _text(s: pd.Series | None, n: int) -> pd.Series:
    """A text column as plain Python strings (missing: empty), on a fresh range index."""
    if s is None:
        return pd.Series([""] * n, dtype=object)
    vals = s.to_numpy(dtype=object)
    missing = pd.isna(vals)
    return pd.Series([("" if m else str(v).strip()) for v, m in zip(vals, missing)], dtype=object)


def _points(gdf: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    if not len(gdf):
        return np.zeros(0), np.zeros(0)
    pts = gdf.geometry.to_crs(4490).representative_point()
    return np.round(pts.x.to_numpy(), 6), np.round(pts.y.to_numpy(), 6)


def callout_list(grids: gpd.GeoDataFrame, leaves: gpd.GeoDataFrame, *, shelters: gpd.GeoDataFrame | None = None,
                 villages: gpd.GeoDataFrame | None = None, unusable: dict | None = None,
                 planned: pd.Series | None = None) -> CallOut:
    """Build the call-out chain of a warning over ``leaves``.

    Parameters
    ----------
    grids : GeoDataFrame
        Every transfer grid of the workspace (all levels): ``grid_id``, ``parent_id``, ``level``,
        ``name``, ``responsible``, ``phone``...
    leaves : GeoDataFrame
        The warning's leaf grids, with ``people`` (to move) and ``planned_shelter``
        (:class:`gis.ops.area.Area`).
    shelters, villages : GeoDataFrame, optional
        The workspace's shelters and villages.
    unusable : dict, optional
        Shelter id -> reason the plan found it unusable.
    planned : Series, optional
        People planned per shelter id (a plan's routes); default: the people of the grids whose
        planned shelter it is.

    Returns
    -------
    CallOut
    """
    notes: list[Text] = []
    g = pd.DataFrame(grids.drop(columns=grids.geometry.name)).copy()
    g["grid_id"] = g["grid_id"].astype(str)
    g = g.drop_duplicates("grid_id").set_index("grid_id", drop=False)
    n = len(g)
    parent = _text(g.get("parent_id"), n).set_axis(g.index).replace("", None)
    level = _text(g.get("level"), n).set_axis(g.index)
    rank = level.map(GRID_LEVEL_RANK).astype("float64")
    name = _text(g.get("name"), n).set_axis(g.index)
    person = _text(g.get("responsible"), n).set_axis(g.index)
    phone = _text(g.get("phone"), n).set_axis(g.index)
    key = pd.Series([contact_key(p, i) for p, i in zip(phone, g.index)], index=g.index, dtype=object)

    lv = leaves.copy()
    lv["grid_id"] = lv["grid_id"].astype(str)
    ppl = pd.to_numeric(lv["people"], errors="coerce").fillna(0).astype("int64").to_numpy()
    hh = pd.to_numeric(lv.get("households"), errors="coerce").fillna(0).astype("int64").to_numpy() \
        if "households" in lv else np.zeros(len(lv), np.int64)
    vul = pd.to_numeric(lv.get("vulnerable"), errors="coerce").fillna(0).astype("int64").to_numpy() \
        if "vulnerable" in lv else np.zeros(len(lv), np.int64)
    # the chain of each leaf: itself, its parent, ... (a cycle or a missing parent stops it)
    chain = [lv["grid_id"].to_numpy(dtype=object)]
    for _ in range(_MAX_DEPTH):
        up = parent.reindex(chain[-1]).to_numpy(dtype=object)
        up = np.where(pd.isna(up), None, up)
        if all(u is None for u in up):
            break
        chain.append(up)
    li = np.tile(np.arange(len(lv)), len(chain))
    depth = np.repeat(np.arange(len(chain)), len(lv))
    gid = np.concatenate(chain)
    ok = pd.notna(gid) & pd.Index(g.index).get_indexer(pd.Series(gid).fillna("").to_numpy()).__ge__(0)
    long = pd.DataFrame({"leaf": li[ok], "grid_id": gid[ok], "depth": depth[ok]})
    long = long.drop_duplicates(["leaf", "grid_id"])
    long["key"] = key.reindex(long["grid_id"]).to_numpy()
    long["rank"] = rank.reindex(long["grid_id"]).to_numpy()
    # an unranked level (free text) ranks by its distance from the leaf: the farther, the higher
    long["order"] = np.where(np.isfinite(long["rank"]), long["rank"], 5.5 - long["depth"] * 0.01)

    people = long.drop_duplicates(["key", "leaf"])
    per_key = pd.DataFrame({"people": pd.Series(ppl[people["leaf"]]).groupby(people["key"].to_numpy()).sum(),
                            "households": pd.Series(hh[people["leaf"]]).groupby(people["key"].to_numpy()).sum(),
                            "vulnerable": pd.Series(vul[people["leaf"]]).groupby(people["key"].to_numpy()).sum(),
                            "grids": people.groupby("key")["leaf"].nunique()})
    top = long.sort_values(["order", "grid_id"], kind="stable").drop_duplicates("key").set_index("key")
    roles = _roles(long.drop_duplicates(["key", "grid_id"]), name)
    tg = top["grid_id"]
    up = parent.reindex(tg.to_numpy()).to_numpy(dtype=object)
    up_ok = pd.notna(up) & pd.Index(g.index).get_indexer(pd.Series(up).fillna("").to_numpy()).__ge__(0)
    contacts = pd.DataFrame({
        "contact_id": top.index.to_numpy(dtype=object),
        "phone": phone.reindex(tg.to_numpy()).map(normalize_phone).to_numpy(dtype=object),
        "name": person.reindex(tg.to_numpy()).to_numpy(dtype=object),
        "level": level.reindex(tg.to_numpy()).to_numpy(dtype=object),
        "rank": top["order"].round().clip(1, 5).astype("int64").to_numpy(),
        "order": top["order"].to_numpy(),
        "grid_id": tg.to_numpy(dtype=object),
        "roles": roles.reindex(top.index).to_numpy(dtype=object),
        "township": _text(g.get("township"), n).set_axis(g.index).reindex(tg.to_numpy()).to_numpy(dtype=object),
        "village": _text(g.get("village"), n).set_axis(g.index).reindex(tg.to_numpy()).to_numpy(dtype=object),
        "escalate_id": np.where(up_ok, key.reindex(np.where(up_ok, up, "")).to_numpy(dtype=object), None),
        "escalate_name": np.where(up_ok, person.reindex(np.where(up_ok, up, "")).to_numpy(dtype=object), None),
        "escalate_phone": np.where(up_ok, phone.reindex(np.where(up_ok, up, "")).map(normalize_phone)
                                   .to_numpy(dtype=object), None),
    })
    contacts = contacts.join(per_key, on="contact_id")
    contacts["level"] = contacts["level"].where(contacts["level"].isin(list(GRID_LEVEL_RANK)), "other")
    # a contact whose escalation target is themself (same phone one level up) escalates further up
    contacts = _skip_self(contacts, parent, key, person, phone, g.index)

    township_key = _township_contacts(g, level, key, person, phone)
    sh_table, sh_contacts = _shelters(shelters, lv, ppl, unusable or {}, planned, township_key, contacts)
    v_contacts = _villages(villages, lv, ppl, hh, vul, township_key, contacts)
    extra = [c for c in (sh_contacts, v_contacts) if c is not None and len(c)]
    if extra:
        contacts = pd.concat([contacts, *extra], ignore_index=True)
        contacts = contacts.sort_values(["order"], kind="stable").drop_duplicates("contact_id")
    contacts = contacts.sort_values(["order", "township", "village", "grid_id", "contact_id"], kind="stable")
    contacts["seq"] = np.arange(1, len(contacts) + 1)
    for c in ("people", "households", "vulnerable", "grids"):
        contacts[c] = pd.to_numeric(contacts[c], errors="coerce").fillna(0).astype("int64")
    contacts = contacts[list(CONTACT_COLUMNS)].reset_index(drop=True)
    no_phone = int((contacts["phone"].fillna("") == "").sum())
    if no_phone:
        notes.append(Text(f"{no_phone} 名责任人没有联系电话，叫应名单中标为“无电话”，请补充",
                          f"{no_phone} responsible persons have no phone; marked 'no phone' on the call-out list: "
                          "fill them in", "contacts_no_phone"))
    lon, lat = _points(lv)
    sh_name = dict(zip(sh_table["shelter_id"], sh_table["name"])) if len(sh_table) else {}
    planned_id = lv.get("planned_shelter", pd.Series([None] * len(lv), index=lv.index))
    grid_rows = pd.DataFrame({
        "grid_id": lv["grid_id"].to_numpy(dtype=object),
        **{c: _text(lv.get(c), len(lv)).to_numpy(dtype=object) for c in
           ("name", "level", "parent_id", "township", "village", "responsible")},
        "phone": [normalize_phone(p) for p in _text(lv.get("phone"), len(lv))],
        "households": hh, "people": ppl, "vulnerable": vul,
        "shelter_id": planned_id.astype(object).where(planned_id.notna(), None).to_numpy(dtype=object),
        "shelter_name": [sh_name.get(s) if s else None for s in planned_id.astype(object).where(planned_id.notna(),
                                                                                               None)],
        "lon": lon, "lat": lat})
    return CallOut(grid_rows[list(GRID_COLUMNS)], contacts, sh_table, notes)


def _roles(long: pd.DataFrame, name: pd.Series) -> pd.Series:
    """Per contact key: its grids (id and name, highest first; the first six, then how many in all)."""
    srt = long.sort_values(["key", "order", "grid_id"], kind="stable")
    keys = srt["key"].to_numpy(dtype=object)
    ids = srt["grid_id"].to_numpy(dtype=object)
    names = name.reindex(ids).fillna("").to_numpy(dtype=object)
    labels = [f"{i} {n}".strip() for i, n in zip(ids, names)]
    out = {}
    starts = np.r_[0, np.flatnonzero(keys[1:] != keys[:-1]) + 1] if len(keys) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(keys)] if len(keys) else np.zeros(0, int)
    for a, b in zip(starts, ends):
        shown = "；".join(labels[a:min(b, a + 6)])
        out[keys[a]] = shown + (f"；等 {b - a} 个网格" if b - a > 6 else "")
    return pd.Series(out, dtype=object)


def _skip_self(contacts: pd.DataFrame, parent: pd.Series, key: pd.Series, person: pd.Series, phone: pd.Series,
               index: pd.Index) -> pd.DataFrame:
    """Escalate past grids above whose responsible person is the contact themself."""
    same = contacts["escalate_id"].notna() & (contacts["escalate_id"] == contacts["contact_id"])
    if not same.any():
        return contacts
    out = contacts.copy()
    for i in np.flatnonzero(same.to_numpy()):
        g = out["grid_id"].iloc[i]
        target = None
        for _ in range(_MAX_DEPTH):
            g = parent.get(g)
            if g is None or g not in index:
                break
            if key[g] != out["contact_id"].iloc[i]:
                target = g
                break
        out.iat[i, out.columns.get_loc("escalate_id")] = None if target is None else key[target]
        out.iat[i, out.columns.get_loc("escalate_name")] = None if target is None else person[target]
        out.iat[i, out.columns.get_loc("escalate_phone")] = None if target is None else normalize_phone(phone[target])
    return out


def _township_contacts(g: pd.DataFrame, level: pd.Series, key: pd.Series, person: pd.Series,
                       phone: pd.Series) -> dict[str, tuple[str, str, str]]:
    """Township name -> (contact id, name, phone) of its township-level grid (else the county's)."""
    out: dict[str, tuple[str, str, str]] = {}
    tw = _text(g.get("township"), len(g)).set_axis(g.index)
    top = level.map(GRID_LEVEL_RANK)
    for lvl in ("township", "county"):
        sel = g.index[(level == lvl).to_numpy()]
        for i in sel:
            t = tw[i] if lvl == "township" else ""
            out.setdefault(t, (key[i], person[i], normalize_phone(phone[i])))
    if "" not in out and len(g):
        i = top.astype("float64").fillna(9).idxmin()
        out[""] = (key[i], person[i], normalize_phone(phone[i]))
    return out


def _escalation(township: str, table: dict) -> tuple:
    return table.get(township) or table.get("") or (None, None, None)


def _shelters(shelters: gpd.GeoDataFrame | None, lv: pd.DataFrame, ppl: np.ndarray, unusable: dict,
              planned: pd.Series | None, township_key: dict, grid_contacts: pd.DataFrame
              ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The shelter table (every shelter) and the contacts of the shelters the warning's grids go to."""
    if shelters is None or not len(shelters):
        return pd.DataFrame(columns=list(SHELTER_COLUMNS)), None
    s = shelters.copy()
    s["shelter_id"] = s["shelter_id"].astype(str)
    n = len(s)
    if planned is None:
        ps = lv.get("planned_shelter")
        planned = pd.Series(ppl, index=lv.index).groupby(ps.to_numpy()).sum() if ps is not None else pd.Series(
            dtype="int64")
    planned = pd.to_numeric(planned, errors="coerce").fillna(0)
    cap = pd.to_numeric(s.get("capacity"), errors="coerce").fillna(0).round().astype("int64")
    status = _text(s.get("status"), n).replace("", "available").to_numpy()
    usable = (cap.to_numpy() > 0) & (status == "available") & ~s["shelter_id"].isin(set(unusable)).to_numpy()
    reason = np.where(s["shelter_id"].isin(set(unusable)).to_numpy(), s["shelter_id"].map(unusable).astype(object).fillna("")
                      .to_numpy(dtype=object), np.where(status != "available", "状态不可用",
                                                        np.where(cap.to_numpy() > 0, "", "容纳人数为 0 或缺失")))
    lon, lat = _points(s)
    table = pd.DataFrame({
        "shelter_id": s["shelter_id"].to_numpy(dtype=object), "name": _text(s.get("name"), n).to_numpy(dtype=object),
        "type": _text(s.get("type"), n).to_numpy(dtype=object),
        "township": _text(s.get("township"), n).to_numpy(dtype=object),
        "village": _text(s.get("village"), n).to_numpy(dtype=object), "capacity": cap.to_numpy(),
        "usable": usable.astype("int64"), "reason": reason,
        "responsible": _text(s.get("responsible"), n).to_numpy(dtype=object),
        "phone": [normalize_phone(p) for p in _text(s.get("phone"), n)],
        "planned": s["shelter_id"].map(planned).fillna(0).round().astype("int64").to_numpy(), "lon": lon, "lat": lat})
    used = table[table["planned"] > 0]
    if not len(used):   # no plan: the usable shelters of the warning's townships receive people
        tws = set(_text(lv.get("township"), len(lv)))
        used = table[table["township"].isin(tws) & (table["usable"] == 1)]
    rows = []
    taken = set(grid_contacts["contact_id"])
    for r in used.itertuples(index=False):
        k = r.phone or f"S:{r.shelter_id}"
        if k in taken:
            continue
        esc = _escalation(r.township, township_key)
        rows.append({"contact_id": k, "phone": r.phone, "name": r.responsible, "level": "shelter",
                     "rank": SHELTER_RANK, "order": float(SHELTER_RANK), "grid_id": None,
                     "roles": f"{r.shelter_id} {r.name}", "township": r.township, "village": r.village,
                     "escalate_id": esc[0], "escalate_name": esc[1], "escalate_phone": esc[2], "grids": 0,
                     "households": 0, "people": int(r.planned), "vulnerable": 0})
        taken.add(k)
    return table, pd.DataFrame(rows) if rows else None


def _villages(villages: gpd.GeoDataFrame | None, lv: pd.DataFrame, ppl, hh, vul, township_key: dict,
              grid_contacts: pd.DataFrame) -> pd.DataFrame | None:
    """Village heads (villages layer) of the warning's villages not already called as a grid's person."""
    if villages is None or not len(villages) or "phone" not in villages or "village" not in lv:
        return None
    v = villages.copy()
    n = len(v)
    v["vkey"] = _text(v.get("township"), n).to_numpy(dtype=object) + "/" + _text(v.get("name"), n).to_numpy(
        dtype=object)
    lk = _text(lv.get("township"), len(lv)).to_numpy(dtype=object) + "/" + _text(lv.get("village"), len(lv)).to_numpy(
        dtype=object)
    agg = pd.DataFrame({"people": ppl, "households": hh, "vulnerable": vul, "k": lk}).groupby("k").agg(
        people=("people", "sum"), households=("households", "sum"), vulnerable=("vulnerable", "sum"),
        grids=("people", "size"))
    taken = set(grid_contacts["contact_id"])
    rows = []
    for r in v[v["vkey"].isin(agg.index)].itertuples(index=False):
        ph = normalize_phone(getattr(r, "phone", ""))
        if not ph or ph in taken:
            continue
        tw = str(getattr(r, "township", "") or "")
        esc = _escalation(tw, township_key)
        a = agg.loc[r.vkey]
        rows.append({"contact_id": ph, "phone": ph, "name": str(getattr(r, "responsible", "") or ""),
                     "level": "village", "rank": 3, "order": 3.0, "grid_id": None,
                     "roles": f"{getattr(r, 'village_id', '') or ''} {r.name}".strip(), "township": tw,
                     "village": str(r.name), "escalate_id": esc[0], "escalate_name": esc[1], "escalate_phone": esc[2],
                     "grids": int(a["grids"]), "households": int(a["households"]), "people": int(a["people"]),
                     "vulnerable": int(a["vulnerable"])})
        taken.add(ph)
    return pd.DataFrame(rows) if rows else None
