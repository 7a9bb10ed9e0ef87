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
from layers.events import CONTACT_COLUMNS, GRID_COLUMNS, SHELTER_COLUMNS, normalize_phone, normalize_phones, plain_text
from layers.text import Text

__all__ = ["CallOut", "callout_list", "SHELTER_RANK", "contact_key", "contact_keys"]

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


def contact_keys(phones: object, grid_ids: object) -> np.ndarray:
    """:func:`contact_key` of many grids at once (object array)."""
    p = normalize_phones(phones)
    ids = np.asarray(pd.Series(grid_ids, dtype=object).astype(str), dtype=object)
    return np.where(p != "", p, "G:" + ids).astype(object)


def _text(s: pd.Series | None, n: int) -> np.ndarray:
    """A text column as an object array of plain strings (missing, or no column: empty)."""
    return np.full(n, "", dtype=object) if s is None else plain_text(s)


def _frame(columns: dict) -> pd.DataFrame:
    """A table of these columns as given: text arrays stay Python objects (pandas would infer Arrow strings, and
    the record turns them back into objects to write them)."""
    return pd.DataFrame({k: pd.Series(v, dtype=object) if isinstance(v, np.ndarray) and v.dtype == object else v
                         for k, v in columns.items()})


def _order(df: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Positions of the rows of ``df`` sorted by ``keys``: stable, missing values last, as ``sort_values`` orders
    them, but the text compared in Arrow (C++) rather than as Python strings."""
    import pyarrow as pa  # type: ignore[import-untyped]  # no py.typed, pyarrow-stubs not installed
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    try:
        table = pa.table({k: pa.array(df[k].to_numpy(), from_pandas=True) for k in keys})
    except (pa.ArrowInvalid, pa.ArrowTypeError):          # mixed types in a column: pandas compares them
        return df.reset_index(drop=True).sort_values(keys, kind="stable").index.to_numpy()
    return np.asarray(pc.sort_indices(table, sort_keys=[(k, "ascending") for k in keys]).to_numpy())  # nulls last


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
    g = pd.DataFrame(grids.drop(columns=grids.geometry.name))
    g = g.assign(grid_id=_text(g["grid_id"], len(g))).drop_duplicates("grid_id").reset_index(drop=True)
    n = len(g)
    ids = g["grid_id"].to_numpy(dtype=object)
    index = pd.Index(ids)
    parent = _text(g.get("parent_id"), n)
    ppos = np.where(parent != "", index.get_indexer(parent), -1)
    level = _text(g.get("level"), n)
    rank = pd.Series(level).map(GRID_LEVEL_RANK).to_numpy(dtype="float64")
    name = _text(g.get("name"), n)
    person = _text(g.get("responsible"), n)
    phone = normalize_phones(g["phone"]) if "phone" in g else np.full(n, "", dtype=object)
    township = _text(g.get("township"), n)
    village = _text(g.get("village"), n)
    key = np.where(phone != "", phone, "G:" + ids).astype(object)
    kcode, keys = pd.factorize(key)

    lv = leaves
    nl = len(lv)
    lpos = index.get_indexer(_text(lv["grid_id"], nl))
    ppl = pd.to_numeric(lv["people"], errors="coerce").fillna(0).astype("int64").to_numpy()
    hh = pd.to_numeric(lv["households"], errors="coerce").fillna(0).astype("int64").to_numpy() \
        if "households" in lv else np.zeros(nl, np.int64)
    vul = pd.to_numeric(lv["vulnerable"], errors="coerce").fillna(0).astype("int64").to_numpy() \
        if "vulnerable" in lv else np.zeros(nl, np.int64)
    # the chain of each leaf: itself, its parent, ... (a missing parent stops it; a cycle stops at _MAX_DEPTH)
    chain, cur = [lpos], lpos
    for _ in range(_MAX_DEPTH):
        cur = np.where(cur >= 0, ppos[np.maximum(cur, 0)], -1)
        if not (cur >= 0).any():
            break
        chain.append(cur)
    gpos = np.concatenate(chain)
    leaf = np.tile(np.arange(nl), len(chain))
    depth = np.repeat(np.arange(len(chain)), nl)
    ok = gpos >= 0
    gpos, leaf, depth = gpos[ok], leaf[ok], depth[ok]
    kc = kcode[gpos]
    # an unranked level (free text) ranks by its distance from the leaf: the farther, the higher
    order = np.where(np.isfinite(rank[gpos]), rank[gpos], 5.5 - depth * 0.01)

    # people answered for: each (person, leaf) once
    nk = len(keys)
    _, first = np.unique(kc.astype(np.int64) * max(nl, 1) + leaf, return_index=True)
    per_people = np.bincount(kc[first], weights=ppl[leaf[first]], minlength=nk)
    per_hh = np.bincount(kc[first], weights=hh[leaf[first]], minlength=nk)
    per_vul = np.bincount(kc[first], weights=vul[leaf[first]], minlength=nk)
    per_grids = np.bincount(kc[first], minlength=nk)
    # each person's highest grid
    o = np.lexsort((gpos, order, kc))
    kc_o, g_o, ord_o = kc[o], gpos[o], order[o]
    head = np.r_[True, kc_o[1:] != kc_o[:-1]] if len(o) else np.zeros(0, bool)
    present, top, top_order = kc_o[head], g_o[head], ord_o[head]
    roles = _roles(kc_o, g_o, ids, name)
    # escalation: the person of the grid above the highest one, skipping grids of the same person
    up = ppos[top]
    for _ in range(_MAX_DEPTH):
        same = (up >= 0) & (kcode[np.maximum(up, 0)] == present)
        if not same.any():
            break
        up = np.where(same, ppos[np.maximum(up, 0)], up)
    has_up = up >= 0
    upc = np.maximum(up, 0)
    lvl = level[top]
    contacts = _frame({
        "contact_id": keys[present].astype(object), "phone": phone[top], "name": person[top],
        "level": np.where(np.isin(lvl, list(GRID_LEVEL_RANK)), lvl, "other"),
        "rank": np.clip(np.round(top_order), 1, 5).astype("int64"), "order": top_order, "grid_id": ids[top],
        "roles": np.array([roles[k] for k in present.tolist()], dtype=object), "township": township[top],
        "village": village[top],
        "escalate_id": np.where(has_up, key[upc], None), "escalate_name": np.where(has_up, person[upc], None),
        "escalate_phone": np.where(has_up, phone[upc], None),
        "grids": per_grids[present], "households": per_hh[present].astype("int64"),
        "people": per_people[present].astype("int64"), "vulnerable": per_vul[present].astype("int64")})

    township_key = _township_contacts(ids, level, township, key, person, phone)
    sh_table, sh_contacts = _shelters(shelters, lv, ppl, unusable or {}, planned, township_key, contacts)
    v_contacts = _villages(villages, lv, ppl, hh, vul, township_key, contacts)
    extra = [c for c in (sh_contacts, v_contacts) if c is not None and len(c)]
    if extra:
        contacts = pd.concat([contacts, *extra], ignore_index=True)
        contacts = contacts.sort_values(["order"], kind="stable").drop_duplicates("contact_id")
    contacts = contacts.iloc[_order(contacts, ["order", "township", "village", "grid_id", "contact_id"])]
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
    planned_id = lv["planned_shelter"].astype(object) if "planned_shelter" in lv else pd.Series([None] * nl)
    planned_id = planned_id.where(planned_id.notna(), None).to_numpy(dtype=object)
    sh_name = np.full(nl, None, dtype=object)
    if len(sh_table):
        at = pd.Index(sh_table["shelter_id"].to_numpy(dtype=object)).get_indexer(planned_id)
        sh_name[at >= 0] = sh_table["name"].to_numpy(dtype=object)[at[at >= 0]]
    grid_rows = _frame({
        "grid_id": _text(lv["grid_id"], nl),
        **{c: _text(lv.get(c), nl) for c in ("name", "level", "parent_id", "township", "village", "responsible")},
        "phone": normalize_phones(lv["phone"]) if "phone" in lv else np.full(nl, "", dtype=object),
        "households": hh, "people": ppl, "vulnerable": vul, "shelter_id": planned_id,
        "shelter_name": sh_name,
        "lon": lon, "lat": lat})
    return CallOut(grid_rows[list(GRID_COLUMNS)], contacts, sh_table, notes)


def _roles(kc_o: np.ndarray, g_o: np.ndarray, ids: np.ndarray, name: np.ndarray) -> dict[int, str]:
    """Per contact code: its grids (id and name, highest first; the first six, then how many more)."""
    if not len(kc_o):
        return {}
    pair = kc_o.astype(np.int64) * (len(ids) + 1) + g_o
    keep = np.r_[True, pair[1:] != pair[:-1]]          # each (person, grid) once, order kept
    kc_u, g_u = kc_o[keep], g_o[keep]
    labels = ids[g_u] + " " + name[g_u]
    starts = np.r_[0, np.flatnonzero(kc_u[1:] != kc_u[:-1]) + 1]
    ends = np.r_[starts[1:], len(kc_u)]
    single = ends - starts == 1
    out: dict[int, str] = dict(zip(kc_u[starts[single]].tolist(), labels[starts[single]].tolist()))
    for a, b in zip(starts[~single].tolist(), ends[~single].tolist()):
        # kept in the record as it is, so written the same for every language: ids and names, "+N" for the rest
        shown = "; ".join(labels[a:min(b, a + 6)])
        out[int(kc_u[a])] = shown + (f"; … (+{b - a - 6})" if b - a > 6 else "")
    return out


def _township_contacts(ids: np.ndarray, level: np.ndarray, township: np.ndarray, key: np.ndarray,
                       person: np.ndarray, phone: np.ndarray) -> dict[str, tuple[str, str, str]]:
    """Township name -> (contact id, name, phone) of its township-level grid; ``""`` -> the county's."""
    out: dict[str, tuple[str, str, str]] = {}
    for i in np.flatnonzero(level == "township"):
        out.setdefault(township[i], (key[i], person[i], phone[i]))
    top = np.flatnonzero(level == "county")
    if len(top):
        out.setdefault("", (key[top[0]], person[top[0]], phone[top[0]]))
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
    status = _text(s.get("status"), n)
    status = np.where(status == "", "available", status)
    usable = (cap.to_numpy() > 0) & (status == "available") & ~s["shelter_id"].isin(set(unusable)).to_numpy()
    reason = np.where(s["shelter_id"].isin(set(unusable)).to_numpy(),
                      s["shelter_id"].map(unusable).astype(object).fillna("").to_numpy(dtype=object),
                      np.where(status != "available", "状态不可用",
                               np.where(cap.to_numpy() > 0, "", "容纳人数为 0 或缺失")))
    lon, lat = _points(s)
    table = pd.DataFrame({
        "shelter_id": s["shelter_id"].to_numpy(dtype=object), "name": _text(s.get("name"), n),
        "type": _text(s.get("type"), n), "township": _text(s.get("township"), n),
        "village": _text(s.get("village"), n), "capacity": cap.to_numpy(),
        "usable": usable.astype("int64"), "reason": reason,
        "responsible": _text(s.get("responsible"), n),
        "phone": normalize_phones(s["phone"]) if "phone" in s else np.full(n, "", dtype=object),
        "planned": s["shelter_id"].map(planned).fillna(0).round().astype("int64").to_numpy(), "lon": lon, "lat": lat})
    used = table["planned"].to_numpy() > 0
    if not used.any():   # no plan: the usable shelters of the warning's townships receive people
        tws = set(_text(lv.get("township"), len(lv)).tolist())
        used = table["township"].isin(tws).to_numpy() & (table["usable"].to_numpy() == 1)
    sid = table["shelter_id"].to_numpy(dtype=object)
    name = table["name"].to_numpy(dtype=object)
    ph = table["phone"].to_numpy(dtype=object)
    zero = np.zeros(n, np.int64)
    more = _more_contacts(used, np.where(ph != "", ph, "S:" + sid).astype(object), grid_contacts, township_key,
                          level="shelter", rank=SHELTER_RANK, phone=ph,
                          name=table["responsible"].to_numpy(dtype=object), roles=sid + " " + name,
                          township=table["township"].to_numpy(dtype=object),
                          village=table["village"].to_numpy(dtype=object), grids=zero, households=zero,
                          people=table["planned"].to_numpy(), vulnerable=zero)
    return table, more


def _more_contacts(keep: np.ndarray, cid: np.ndarray, grid_contacts: pd.DataFrame, township_key: dict, *,
                   level: str, rank: int, **cols: np.ndarray) -> pd.DataFrame | None:
    """Contacts beyond the grids' persons (shelter heads, village heads): the rows ``keep`` whose contact id
    ``cid`` is not called yet, each id once (its first row), escalating to the person of their township's grid
    (else the county's). ``cols``: ``phone``, ``name``, ``roles``, ``township``, ``village``, ``grids``,
    ``households``, ``people``, ``vulnerable``, one value per row."""
    taken = set(grid_contacts["contact_id"].tolist())
    idx = np.flatnonzero(keep)
    idx = idx[np.fromiter((k not in taken for k in cid[idx].tolist()), bool, len(idx))]
    idx = idx[~pd.Series(cid[idx], dtype=object).duplicated().to_numpy()]
    if not len(idx):
        return None
    esc = np.array([_escalation(t, township_key) for t in cols["township"][idx].tolist()], dtype=object
                   ).reshape(len(idx), 3)
    n = len(idx)
    return _frame({"contact_id": cid[idx], "phone": cols["phone"][idx], "name": cols["name"][idx],
                   "level": np.full(n, level, dtype=object), "rank": np.full(n, rank, np.int64),
                   "order": np.full(n, float(rank)), "grid_id": np.full(n, None, dtype=object),
                   "roles": cols["roles"][idx], "township": cols["township"][idx], "village": cols["village"][idx],
                   "escalate_id": esc[:, 0], "escalate_name": esc[:, 1], "escalate_phone": esc[:, 2],
                   **{c: np.asarray(cols[c][idx], dtype=np.int64) for c in ("grids", "households", "people",
                                                                            "vulnerable")}})


def _villages(villages: gpd.GeoDataFrame | None, lv: pd.DataFrame, ppl, hh, vul, township_key: dict,
              grid_contacts: pd.DataFrame) -> pd.DataFrame | None:
    """Village heads (villages layer) of the warning's villages not already called as a grid's person."""
    if villages is None or not len(villages) or "phone" not in villages or "village" not in lv:
        return None
    n = len(villages)
    town, name = _text(villages.get("township"), n), _text(villages.get("name"), n)
    codes, keys = pd.factorize(_text(lv.get("township"), len(lv)) + "/" + _text(lv.get("village"), len(lv)))
    at = pd.Index(keys).get_indexer(town + "/" + name)       # each village's position among the warning's villages
    here = at >= 0
    k = np.maximum(at, 0)
    nk = len(keys)

    def per_village(w: np.ndarray | None) -> np.ndarray:
        return np.bincount(codes, weights=w, minlength=nk).round().astype(np.int64)[k]

    ph = normalize_phones(villages["phone"])
    vid = _text(villages.get("village_id"), n)
    roles = np.array([f"{a} {b}".strip() for a, b in zip(vid.tolist(), name.tolist())], dtype=object)
    return _more_contacts(here & (ph != ""), ph, grid_contacts, township_key, level="village", rank=3, phone=ph,
                          name=_text(villages.get("responsible"), n), roles=roles, township=town, village=name,
                          grids=per_village(None), households=per_village(hh), people=per_village(ppl),
                          vulnerable=per_village(vul))
