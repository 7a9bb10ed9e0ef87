"""During the flood: warning call-out (预警叫应), report-back (实报反馈), shelter check-in, supply dispatch.

Pure functions and typed results (no streamlit), used by the Operations page (``ui/page_operations.py``)
and the command line (``gis/cli/ops.py``):

- :mod:`gis.ops.area`: which grids a warning covers (townships, villages, grid ids, a saved plan, a
  polygon drawn on the map, or everything);
- :mod:`gis.ops.callout`: the call-out chain from the grid hierarchy and the responsible persons;
- :mod:`gis.ops.progress`: who acknowledged, who is overdue and whom to escalate to, each grid's
  status, shelter occupancy, totals per township, the timeline;
- :mod:`gis.ops.replan`: the people still to move over the remaining shelter capacity (the flood
  plan's exact assignment, with current occupancy);
- :mod:`gis.ops.dispatch`: needs per shelter and the dispatch from the reserve depots along usable
  roads, minimising ton-km (min-cost flow);
- :mod:`gis.ops.session`: the workspace's layers and record together (what a page or a command does).

The record itself (append-only entries) is :mod:`layers.events`.
"""
