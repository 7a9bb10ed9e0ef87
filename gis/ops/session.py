"""One workspace's layers and operations record together: what the Operations page and ``python -m gis`` do.

:class:`Operations` is the scenario object both build (the page with the session's cached layers, the
command line from ``--workspace``); each method is one user action: issue a warning, acknowledge,
report back, check in, see progress, re-plan, dispatch, close. Writes go to the record
(:class:`layers.events.OpsLog`), one transaction each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import pyproj
import shapely

from gis.flood.roads import RoadGraph, build_graph
from gis.ops.area import Area, PlanFiles, choose_area
from gis.ops.callout import CallOut, callout_list
from gis.ops.dispatch import ITEMS, NO_DEPOTS, Dispatch, dispatch_plan, shelter_needs
from gis.ops.progress import Progress, occupancy, progress
from gis.ops.texts import default_message
from layers.errors import AnalysisRefused, LayerError, Problem
from layers.events import Entry, OpsLog, Snapshot, Warning
from layers.text import Text
from layers.workspace import RESTORE_TOKEN

if TYPE_CHECKING:   # the re-plan brings the whole evacuation planner (assignment, walking): imported when used
    from gis.ops.replan import Replan

__all__ = ["Operations", "Issued", "parse_minutes"]


@dataclass
class Issued:
    """A warning just issued: the record's warning, its call-out list and the area it covers."""

    warning: Warning
    callout: CallOut
    area: Area
    notes: list[Text] = field(default_factory=list)

    def summary(self) -> dict:
        """``warning_id``, ``level``, ``grids``, ``contacts``, ``people``, ``households``, ``vulnerable``..."""
        w = self.warning
        c = self.callout.contacts
        return {"warning_id": w.warning_id, "level": w.level, "message": w.message, "issued_at": w.issued_at,
                "issuer": w.issuer, "area": w.area, "grids": w.grids, "contacts": w.contacts, "people": w.people,
                "households": w.households, "vulnerable": w.vulnerable,
                "contacts_by_level": {k: int(v) for k, v in c["level"].value_counts().items()},
                "contacts_without_phone": int((c["phone"].fillna("") == "").sum()),
                "ack_minutes": w.deadline_minutes}


def parse_minutes(text: str | None) -> dict[str, float]:
    """Deadlines from ``"red=10,orange=20"`` (minutes per warning level).

    Raises
    ------
    LayerError
        An unknown level or a value that is not a positive number.
    """
    from layers.events import LEVELS

    out: dict[str, float] = {}
    for part in (text or "").replace("，", ",").split(","):
        if not part.strip():
            continue
        k, sep, v = part.partition("=")
        try:
            num = float(v) if sep else -1.0
        except ValueError:
            num = -1.0
        if k.strip() not in LEVELS or not num > 0:
            raise LayerError(Problem(f"叫应时限无效：{part.strip()}",
                                     f"invalid acknowledgment deadline: {part.strip()}",
                                     "写成 级别=分钟，如 red=10,orange=20,yellow=45,blue=90",
                                     "write level=minutes, e.g. red=10,orange=20,yellow=45,blue=90",
                                     field="--ack-minutes"))
        out[k.strip()] = num
    return out


class Operations:
    """A workspace's layers and its operations record.

    Parameters
    ----------
    store : Workspace or PostGISStore
        Where the layers and the record are.
    layers : dict, optional
        Layers already read (kind -> GeoDataFrame), e.g. the page's cached ones; others are read
        from the store when first needed.
    """

    def __init__(self, store: Any, *, layers: dict | None = None):
        self.store = store
        self.log = OpsLog(store)
        self._layers: dict[str, gpd.GeoDataFrame | None] = dict(layers or {})
        self._graphs: dict[str, RoadGraph | None] = {}

    def layer(self, kind: str) -> gpd.GeoDataFrame | None:
        """Layer ``kind`` of the workspace (None when it has none)."""
        if kind not in self._layers:
            kinds = self.store.vector_kinds()
            self._layers[kind] = self.store.vector(kind) if kind in kinds else None
        return self._layers[kind]

    def road_graph(self, crs: Any) -> RoadGraph | None:
        """The road graph of the workspace's roads in ``crs`` (None without roads), built once and kept.

        Every dispatch of these layers reuses it (a flood extent is cut from a copy); a page keeps it per
        workspace revision across sessions by wrapping this call (``ui/page_operations.py``).
        """
        key = pyproj.CRS.from_user_input(crs).to_wkt()
        if key not in self._graphs:
            def build() -> RoadGraph | None:
                roads = self.layer("roads")
                return build_graph(roads, crs=crs) if roads is not None and len(roads) else None

            self._graphs[key] = self._stored_graph(crs, build)
        return self._graphs[key]

    def _stored_graph(self, crs: Any, build: Callable[[], RoadGraph | None]) -> RoadGraph | None:
        """The road graph from the workspace's cache folder when one of this revision of the roads is there
        (:mod:`gis.flood.road_cache`), else built and stored; a store without a folder (PostGIS) builds it."""
        from gis.flood.road_cache import cached_graph, graph_key
        from layers.folders import cache_folder

        gpkg, revision = getattr(self.store, "gpkg", None), getattr(self.store, "revision", None)
        if gpkg is None or revision is None:
            return build()
        if "roads" not in self.store.vector_kinds():
            return None
        rev = revision()
        token = [rev.get("roads", 0), rev.get("last_change:roads"), rev.get(RESTORE_TOKEN, 0)]
        return cached_graph(cache_folder(gpkg), graph_key(token, crs), build)

    def _need(self, kind: str) -> gpd.GeoDataFrame:
        g = self.layer(kind)
        if g is None or not len(g):
            from layers.catalogue import spec

            s = spec(kind)
            raise LayerError(Problem(f"工作空间中没有“{s.zh}”图层", f"the workspace has no '{s.en}' layer",
                                     "先在“数据图层”页导入该图层", "import it on the Data layers page first",
                                     field=kind))
        return g

    # ---- the warning ---------------------------------------------------------------------------------------------
    def warn(self, level: str, *, townships: list[str] | None = None, villages: list[str] | None = None,
             grid_ids: list[str] | None = None, plan: PlanFiles | None = None, polygon: shapely.Geometry | None = None,
             everything: bool = False, message: str | None = None, issuer: str = "", at: str | None = None,
             ack_minutes: dict | None = None) -> Issued:
        """Issue a warning over an area and record it with its call-out list (one transaction)."""
        from layers.events import LEVELS

        if level not in LEVELS:
            raise LayerError(Problem(f"预警级别“{level}”无效", f"invalid warning level '{level}'",
                                     "用 red、orange、yellow 或 blue", "use red, orange, yellow or blue",
                                     field="--level"))
        grids = self._need("grids")
        shelters = self.layer("shelters")
        area = choose_area(grids, shelters=shelters, townships=townships, villages=villages, grid_ids=grid_ids,
                           plan=plan, polygon=polygon, everything=everything)
        planned = None
        if area.routes is not None and len(area.routes):
            planned = pd.to_numeric(area.routes["people"], errors="coerce").groupby(
                area.routes["shelter_id"].astype(str)).sum()
        co = callout_list(grids, area.grids, shelters=shelters, villages=self.layer("villages"),
                          unusable=area.unusable, planned=planned)
        routes = None
        if area.routes is not None and len(area.routes):
            r = area.routes.to_crs(4490)
            routes = pd.DataFrame({c: r[c] for c in ("grid_id", "shelter_id", "people", "distance_km", "time_min",
                                                     "method") if c in r})
            routes["wkb"] = shapely.to_wkb(r.geometry.to_numpy())
        text = message if message and message.strip() else default_message(level).zh
        w = self.log.issue(level=level, message=text, issuer=issuer, area=area.spec, grids=co.grids,
                           contacts=co.contacts, shelters=co.shelters, routes=routes, issued_at=at,
                           ack_minutes=ack_minutes)
        return Issued(w, co, area, [*area.notes, *co.notes])

    def warnings(self) -> list[Warning]:
        """Every warning of the workspace, newest first."""
        return self.log.warnings()

    def snapshot(self, warning_id: str) -> Snapshot:
        """The warning and what it covered."""
        return self.log.snapshot(warning_id)

    def entries(self, warning_id: str) -> pd.DataFrame:
        """Every entry of the warning (see :meth:`layers.events.OpsLog.entries`)."""
        return self.log.entries(warning_id)

    # ---- updates ---------------------------------------------------------------------------------------------------
    def ack(self, warning_id: str, contact: str, **kw: Any) -> Entry:
        """Record an acknowledgment (:meth:`layers.events.OpsLog.acknowledge`)."""
        return self.log.acknowledge(warning_id, contact, **kw)

    def report(self, warning_id: str, grid_id: str, **kw: Any) -> Entry:
        """Record a report-back (:meth:`layers.events.OpsLog.report`)."""
        return self.log.report(warning_id, grid_id, **kw)

    def checkin(self, warning_id: str, shelter_id: str, **kw: Any) -> Entry:
        """Record a check-in (:meth:`layers.events.OpsLog.checkin`)."""
        return self.log.checkin(warning_id, shelter_id, **kw)

    def close(self, warning_id: str, *, user: str = "", at: str | None = None, note: str = "") -> Entry:
        """Record the end of the warning (解除预警)."""
        return self.log.record(warning_id, "close", {}, at=at, user=user, note=note)

    # ---- where it stands -------------------------------------------------------------------------------------------
    def progress(self, warning_id: str, *, at: str | None = None, ack_minutes: dict | None = None) -> Progress:
        """Where the warning stands at ``at`` (default now)."""
        snap = self.log.snapshot(warning_id)
        return progress(snap, self.log.entries(warning_id), at=at, ack_minutes=ack_minutes)

    def replan(self, warning_id: str, *, prog: Progress | None = None, flood: object = None,
               options: Any = None) -> Replan:
        """Assign the people still to move to the remaining capacity (:func:`gis.ops.replan.replan`)."""
        from gis.ops.replan import replan

        prog = prog or self.progress(warning_id)
        return replan(prog, self._need("grids"), self._need("shelters"), roads=self.layer("roads"), flood=flood,
                      options=options)

    def sent(self, warning_id: str, entries: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """What the warning's recorded dispatches sent: (per shelter, per depot) quantities per item
        (``entries``: the warning's, when already read)."""
        e = self.log.entries(warning_id) if entries is None else entries
        e = e[(e["kind"] == "dispatch") & e["active"]]
        rows = [s for d in e["data"] if isinstance(d, dict) for s in d.get("shipments", [])]
        if not rows:
            empty = pd.DataFrame(columns=list(ITEMS))
            return empty, empty
        df = pd.DataFrame(rows)
        df["quantity"] = pd.to_numeric(df["quantity"], errors="coerce").fillna(0)
        to = df.pivot_table(index="shelter_id", columns="item", values="quantity", aggfunc="sum", fill_value=0)
        out = df.pivot_table(index="depot_id", columns="item", values="quantity", aggfunc="sum", fill_value=0)
        return to, out

    def dispatch(self, warning_id: str, *, prog: Progress | None = None, flood: object = None,
                 rates: dict | None = None, days: int = 3, record: bool = False, user: str = "",
                 at: str | None = None, graph: Any = None) -> tuple[Dispatch, Entry | None]:
        """Needs from the current occupancy, less what was sent, shipped from the depots (least ton-km).

        With ``record`` the plan is written to the record as a ``dispatch`` entry (what later
        dispatches deduct). The road graph is :meth:`road_graph` unless ``graph`` is given (see
        :func:`gis.ops.dispatch.dispatch_plan`).
        """
        entries = self.log.entries(warning_id)
        # the shelters' check-ins alone when no progress is at hand (the warning's grids and contacts are not needed)
        shelters = prog.shelters if prog is not None else occupancy(self.log.shelters(warning_id), entries)
        depots = self.layer("depots")
        if depots is None or not len(depots):
            raise AnalysisRefused(NO_DEPOTS)
        delivered, shipped = self.sent(warning_id, entries)
        needs = shelter_needs(shelters, rates=rates, days=days, delivered=delivered)
        d = dispatch_plan(depots, self._need("shelters"), needs, flood=flood, shipped=shipped,   # roads: in the graph
                          graph=self.road_graph if graph is None else graph)
        entry = None
        if record:
            data = {"shipments": d.shipments[["depot_id", "shelter_id", "item", "quantity", "distance_km",
                                              "method"]].to_dict("records"),
                    "ton_km": round(d.ton_km, 3), "shortages": d.shortages(), "rates": rates or {}, "days": days}
            entry = self.log.record(warning_id, "dispatch", data, at=at, user=user,
                                    note=f"{len(d.shipments)} shipments, {d.ton_km:,.1f} t·km")
        return d, entry
