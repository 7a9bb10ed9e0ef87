"""``python -m gis`` commands during a flood: warn, ack, report, checkin, progress, dispatch (and replan, close,
callsheet, record).

A stable contract (scripts and other systems call it): the command names, flags and JSON keys below
stay. ``--workspace`` is a workspace GeoPackage (or its folder) or a PostGIS URL
(``postgresql://user:password@host:5432/db``; schema ``GIS_POSTGIS_SCHEMA``, default ``gis``).
Every update is one transaction in the workspace's operations record (:mod:`layers.events`); a refused
one (unknown warning, grid, contact or shelter; impossible count; duplicate acknowledgment) exits
with status 2 and a bilingual message, and writes nothing. Times (``--at``) are ISO 8601; without a
zone they are China Standard Time (UTC+8).

==========  ====================================================================================
command     JSON keys (at least)
==========  ====================================================================================
warn        ``warning_id``, ``level``, ``grids``, ``contacts``, ``people``, ``households``,
            ``vulnerable``, ``contacts_by_level``, ``files`` (with ``--out``: call sheet, SMS CSV)
ack         ``event_id``, ``warning_id``, ``kind``, ``subject`` (the contact id), ``at``, ``user``
report      the same, with ``moved``, ``refused``, ``absent``
checkin     the same, with ``people``, ``households``, ``vulnerable``
progress    ``grids``, ``contacts``, ``acknowledged``, ``overdue``, ``people_to_move``,
            ``people_moved``, ``people_checked_in``, ``shelters_full``, ``people_unplaced``,
            ``overdue_contacts`` (with whom to escalate to), ``full_shelters``, ``townships``
dispatch    ``shipments`` (list), ``shipments_n``, ``ton_km``, ``shortages`` (item -> short),
            ``items``, ``files``, ``event_id``
==========  ====================================================================================
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gis.cli import command, emit
from layers.errors import LayerError, Problem, StorageError


# ---- shared ------------------------------------------------------------------------------------------------------
def _store(path: str):
    """The store named by ``--workspace``: a PostGIS URL, a workspace GeoPackage, or a workspace folder."""
    from layers.workspace import Workspace

    if path.startswith(("postgresql://", "postgres://")):
        from layers.postgis import PostGISStore

        return PostGISStore(path)
    p = Path(path)
    ws = Workspace(p)
    if not ws.gpkg.is_file():
        raise StorageError(Problem(f"找不到工作空间：{ws.gpkg}", f"no workspace at {ws.gpkg}",
                                   "给出 workspace.gpkg 或其所在文件夹，或 postgresql:// 连接",
                                   "give the workspace.gpkg or its folder, or a postgresql:// connection",
                                   file=ws.gpkg.name))
    return ws


def _ops(args: argparse.Namespace):
    from gis.ops.session import Operations

    return Operations(_store(args.workspace))


def _user(args: argparse.Namespace) -> str:
    if getattr(args, "user", None):
        return args.user
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "cli"


def _common(p: argparse.ArgumentParser, *, warning: bool = True) -> None:
    p.add_argument("--workspace", required=True,
                   help="workspace GeoPackage or folder, or postgresql://user:password@host:5432/db")
    if warning:
        p.add_argument("--warning", required=True, help="warning id (from warn, e.g. YJ20260712001)")
    p.add_argument("--user", help="who records this (default: login name)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of messages and files")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _correction(p: argparse.ArgumentParser) -> None:
    p.add_argument("--at", help="when it happened, ISO 8601 (default now; without a zone: UTC+8)")
    p.add_argument("--corrects", type=int, metavar="ENTRY",
                   help="this entry corrects (supersedes) entry ENTRY; nothing is overwritten")
    p.add_argument("--void", action="store_true", help="with --corrects: cancel entry ENTRY")
    p.add_argument("--note", default="", help="a note kept with the entry")


def _emit(args: argparse.Namespace, out: dict, lines: list[str]) -> int:
    """Print ``out`` as one JSON object with ``--json``, else ``lines``; exit status 0."""
    if args.json:
        emit(out)
    else:
        print("\n".join(lines))
    return 0


def _entry_out(args: argparse.Namespace, entry, headline: str) -> int:
    return _emit(args, entry.as_dict(), [headline])


def _hazard(args: argparse.Namespace):
    """The flood extent of ``--hazard`` (None without it)."""
    if not args.hazard:
        return None
    from gis.flood.hazard import hazard_from_file

    return hazard_from_file(Path(args.hazard))


def _void_check(args: argparse.Namespace) -> None:
    if args.void and args.corrects is None:
        raise LayerError(Problem("--void 需与 --corrects 同用", "--void goes with --corrects",
                                 "如 --corrects 12 --void", "e.g. --corrects 12 --void", field="--void"))


# ---- warn --------------------------------------------------------------------------------------------------------
def _run_warn(args: argparse.Namespace) -> int:
    from gis.ops.area import read_plan
    from gis.ops.session import parse_minutes

    ops = _ops(args)
    grids = [g for part in (args.grids or []) for g in part.replace("，", ",").split(",") if g.strip()]
    issued = ops.warn(args.level, townships=args.township, villages=args.village, grid_ids=grids or None,
                      plan=read_plan(args.plan) if args.plan else None, everything=args.all, message=args.message,
                      issuer=args.issuer or _user(args), at=args.at, ack_minutes=parse_minutes(args.ack_minutes))
    out = issued.summary()
    files: list[str] = []
    if args.out:
        files = [str(f) for f in _callsheet_files(ops, issued.warning.warning_id, Path(args.out), args.lang)]
    out["files"] = files
    out["notes"] = [n(args.lang) for n in issued.notes]
    return _emit(args, out, [f"{out['warning_id']}: {out['level']} — {out['grids']} grids, {out['contacts']} "
                             f"contacts, {out['people']} people / 网格 {out['grids']} 个，叫应 {out['contacts']} 人，"
                             f"涉及 {out['people']} 人", *("  -> " + f for f in files),
                             *("  ! " + n for n in out["notes"])])


@command("warn", "issue a warning and build its call-out list / 发布预警并生成叫应名单")
def _add_warn(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", required=True,
                   help="workspace GeoPackage or folder, or postgresql://user:password@host:5432/db")
    p.add_argument("--level", required=True, choices=("red", "orange", "yellow", "blue"), help="warning level")
    area = p.add_mutually_exclusive_group(required=True)
    area.add_argument("--township", nargs="+", metavar="NAME", help="townships (乡镇) covered")
    area.add_argument("--village", nargs="+", metavar="NAME", help="villages (村名 or 乡镇/村名) covered")
    area.add_argument("--grids", nargs="+", metavar="ID,...", help="grid ids of any level (their leaf grids)")
    area.add_argument("--plan", metavar="DIR", help="a saved flood plan: the folder of `plan --out`, or its plan.gpkg")
    area.add_argument("--all", action="store_true", help="every grid of the workspace")
    p.add_argument("--message", help="the warning's words (default: the standard wording of the level)")
    p.add_argument("--issuer", help="who issues it (default: --user, or the login name)")
    p.add_argument("--at", help="issue time, ISO 8601 (default now; without a zone: UTC+8)")
    p.add_argument("--ack-minutes", metavar="LEVEL=MIN,...",
                   help="minutes to acknowledge per level (default red=15,orange=30,yellow=60,blue=120)")
    p.add_argument("--out", metavar="DIR", help="also write the call sheet (callout.xlsx) and SMS list (sms.csv)")
    p.add_argument("--user", help="login name recorded when --issuer is not given")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--json", action="store_true")


# ---- ack / report / checkin ----------------------------------------------------------------------------------------
def _update(args: argparse.Namespace, action: str, subject: str, headline: Callable[[Any], str], **counts: Any) -> int:
    """Record one update (``action``: ``ack``, ``report`` or ``checkin`` of :class:`gis.ops.session.Operations`) of
    ``subject`` with the correction options, and print it."""
    _void_check(args)
    e = getattr(_ops(args), action)(args.warning, subject, **counts, at=args.at, user=_user(args),
                                     corrects=args.corrects, void=args.void, note=args.note)
    return _entry_out(args, e, headline(e))


def _run_ack(args: argparse.Namespace) -> int:
    return _update(args, "ack", args.contact, lambda e: f"#{e.event_id} ack {e.subject} @ {e.at}")


@command("ack", "record that a contact acknowledged a warning / 记录叫应确认")
def _add_ack(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--contact", required=True, help="the contact's phone number (or contact id)")
    _correction(p)


def _run_report(args: argparse.Namespace) -> int:
    return _update(args, "report", args.grid, lambda e: f"#{e.event_id} report {e.subject}: moved {args.moved}, "
                   f"refused {args.refused}, absent {args.absent}", moved=args.moved, refused=args.refused,
                   absent=args.absent)


@command("report", "report back a grid: people moved, refusing, absent / 实报反馈")
def _add_report(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--grid", required=True, help="grid id")
    p.add_argument("--moved", required=True, type=int, help="people of the grid moved so far")
    p.add_argument("--refused", type=int, default=0, help="people refusing to move")
    p.add_argument("--absent", type=int, default=0, help="people absent or unreachable")
    _correction(p)


def _run_checkin(args: argparse.Namespace) -> int:
    return _update(args, "checkin", args.shelter, lambda e: f"#{e.event_id} checkin {e.subject}: {args.people} people",
                   people=args.people, households=args.households, vulnerable=args.vulnerable)


@command("checkin", "record arrivals at a shelter / 安置签到")
def _add_checkin(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--shelter", required=True, help="shelter id")
    p.add_argument("--people", required=True, type=int, help="people who arrived (this arrival, not a total)")
    p.add_argument("--households", type=int, help="households who arrived")
    p.add_argument("--vulnerable", type=int, help="vulnerable people among them")
    _correction(p)


# ---- progress --------------------------------------------------------------------------------------------------------
def progress_json(prog, lang: str = "zh") -> dict:
    """The ``progress`` command's JSON: totals, overdue contacts with whom to escalate to, full shelters, townships."""
    out = prog.summary()
    c = prog.contacts
    over = c[c["overdue"]].sort_values("seq")
    out["overdue_contacts"] = [
        {"contact_id": r.contact_id, "name": r.name, "phone": r.phone, "level": r.level, "people": int(r.people),
         "minutes_late": float(r.minutes_late), "escalate_to": {"contact_id": r.escalate_id, "name": r.escalate_name,
                                                                "phone": r.escalate_phone}}
        for r in over.itertuples(index=False)]
    s = prog.shelters
    out["full_shelters"] = [{"shelter_id": r.shelter_id, "name": r.name, "capacity": int(r.capacity),
                             "checked_in": int(r.checked_in)} for r in s[s["full"]].itertuples(index=False)]
    out["filling_shelters"] = [{"shelter_id": r.shelter_id, "name": r.name, "capacity": int(r.capacity),
                                "checked_in": int(r.checked_in)} for r in s[s["filling"]].itertuples(index=False)]
    out["townships"] = [{"township": k, **{c_: int(v) for c_, v in row.items()}}
                        for k, row in prog.townships.iterrows()]
    out["notes"] = [n(lang) for n in prog.notes]
    return out


def _run_progress(args: argparse.Namespace) -> int:
    from gis.ops.session import parse_minutes
    from layers.events import parse_time

    prog = _ops(args).progress(args.warning, at=parse_time(args.at) if args.at else None,
                               ack_minutes=parse_minutes(args.ack_minutes) or None)
    out = progress_json(prog, args.lang)
    t = prog.totals
    return _emit(args, out, [f"{args.warning}: acknowledged {t['acknowledged']}/{t['contacts']} (overdue "
                             f"{t['overdue']}), moved {t['people_moved']}/{t['people_to_move']}, checked in "
                             f"{t['people_checked_in']}, full shelters {t['shelters_full']}",
                             *(f"  ! {o['name']} {o['phone']} overdue {o['minutes_late']:.0f} min -> "
                               f"{o['escalate_to']['name']} {o['escalate_to']['phone']}"
                               for o in out["overdue_contacts"][:50])])


@command("progress", "where a warning stands: acknowledged, overdue, moved, checked in / 应急响应进度")
def _add_progress(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--at", help="as of this time, ISO 8601 (default now; without a zone: UTC+8)")
    p.add_argument("--ack-minutes", metavar="LEVEL=MIN,...", help="override the minutes to acknowledge per level")


# ---- dispatch --------------------------------------------------------------------------------------------------------
def _run_dispatch(args: argparse.Namespace) -> int:
    from gis.flood.needs import parse_rates
    from gis.report.ops_sheets import write_dispatch_files

    ops = _ops(args)
    d, entry = ops.dispatch(args.warning, flood=_hazard(args), rates=parse_rates(args.rates) or None, days=args.days,
                            record=not args.no_record, user=_user(args))
    files = write_dispatch_files(d, Path(args.out), warning=ops.log.warning(args.warning), lang=args.lang)
    out = d.summary()
    out.update(warning_id=args.warning, files=[str(f) for f in files],
               event_id=None if entry is None else entry.event_id, notes=[n(args.lang) for n in d.notes])
    return _emit(args, out, [f"{args.warning}: {out['shipments_n']} shipments, {out['ton_km']:,.1f} t·km; "
                             f"shortages {out['shortages']}", *("  -> " + f for f in out["files"])])


@command("dispatch", "supplies from the reserve depots to the shelters, least ton-km / 物资调度")
def _add_dispatch(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--out", required=True, help="output folder (dispatch.xlsx, dispatch.gpkg)")
    p.add_argument("--hazard", help="flood extent (depth raster or danger-zone polygons): flooded roads are not used")
    p.add_argument("--rates", help="minimum-needs rates, e.g. rice_kg=0.5,drinking_l=4 (see `plan --help`)")
    p.add_argument("--days", type=int, default=3, help="days of supply for rice and water (default 3)")
    p.add_argument("--no-record", action="store_true",
                   help="only compute and write the files; do not record the dispatch in the workspace")


# ---- extras: replan, close, callsheet, record ------------------------------------------------------------------------
def _run_replan(args: argparse.Namespace) -> int:
    from gis.report.plan_files import write_plan_files

    ops = _ops(args)
    r = ops.replan(args.warning, flood=_hazard(args))
    out_dir = Path(args.out)
    files = write_plan_files(r.plan, out_dir, lang=args.lang)
    out = {"warning_id": args.warning, **r.summary, "files": [str(f) for f in files],
           "notes": [n(args.lang) for n in r.notes] + r.plan.messages(args.lang)}
    return _emit(args, out, [f"{args.warning}: re-planned {out['people_remaining']} people: placed "
                             f"{out['people_placed']}, unplaced {out['people_unplaced']}"])


@command("replan", "re-plan the people still to move over the remaining capacity / 剩余人员重新分配")
def _add_replan(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--out", required=True, help="output folder (the plan's files)")
    p.add_argument("--hazard", help="flood extent polygons: routes avoid it, shelters in it take nobody")


def _run_close(args: argparse.Namespace) -> int:
    e = _ops(args).close(args.warning, user=_user(args), at=args.at, note=args.note)
    return _entry_out(args, e, f"#{e.event_id} {args.warning} closed / 已解除")


@command("close", "end a warning (its record stays) / 解除预警")
def _add_close(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--at", help="when, ISO 8601 (default now)")
    p.add_argument("--note", default="")


def _callsheet_files(ops, warning_id: str, out: Path, lang: str, *, overdue_only: bool = False) -> list[Path]:
    from gis.report.ops_sheets import callout_workbook, sms_csv

    snap = ops.snapshot(warning_id)
    prog = ops.progress(warning_id)
    out.mkdir(parents=True, exist_ok=True)
    only = set(prog.contacts.loc[prog.contacts["overdue"], "contact_id"]) if overdue_only else None
    xlsx, csv_ = out / "callout.xlsx", out / ("sms_overdue.csv" if overdue_only else "sms.csv")
    xlsx.write_bytes(callout_workbook(snap, lang=lang, contacts=prog.contacts))
    csv_.write_bytes(sms_csv(snap, lang=lang, only=only))
    return [xlsx, csv_]


def _run_callsheet(args: argparse.Namespace) -> int:
    files = [str(f) for f in _callsheet_files(_ops(args), args.warning, Path(args.out), args.lang,
                                              overdue_only=args.overdue)]
    return _emit(args, {"warning_id": args.warning, "files": files}, files)


@command("callsheet", "the printable call sheet and the SMS/broadcast CSV of a warning / 叫应名单与短信列表")
def _add_callsheet(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--out", required=True, help="output folder (callout.xlsx, sms.csv)")
    p.add_argument("--overdue", action="store_true", help="the SMS list of the overdue contacts only")


def _run_record(args: argparse.Namespace) -> int:
    from gis.report.ops_record import record_workbook, write_record_gpkg

    ops = _ops(args)
    snap = ops.snapshot(args.warning)
    entries = ops.entries(args.warning)
    prog = ops.progress(args.warning)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    xlsx = out / f"{args.warning}_record.xlsx"
    xlsx.write_bytes(record_workbook(snap, entries, prog, lang=args.lang))
    gpkg = write_record_gpkg(snap, entries, prog, out / f"{args.warning}_record.gpkg", grid_outlines=ops.layer("grids"))
    files = [str(xlsx), str(gpkg)]
    return _emit(args, {"warning_id": args.warning, "entries": int(len(entries)), "files": files}, files)


@command("record", "the after-action record of a warning: workbook and GeoPackage / 应急响应记录导出")
def _add_record(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--out", required=True, help="output folder")
