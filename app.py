"""Streamlit entry point: page setup, language switch, navigation. ``streamlit run app.py``.

Every page has its own address (``/flood``, ``/fire``, ``/data``, ``/workspace``; ``/`` opens the
Flood page), and the language is kept in the address (``?lang=en``), so a reload or a shared link
opens the same page in the same language.

A page's module is imported when the page is first opened (:func:`_lazy`), so the first page a session
opens does not wait for the imports of the others (the Fire page's analyses, the Operations record, the
workbook writer they load).
"""

import importlib
import logging
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from layers.errors import GisError
from layers.text import COLON, other
from ui.i18n import LANGS, lang, page_css, t
from ui.state import is_demo, storage_banner, workspace_name

if "lang" not in st.session_state:   # a new session (a first visit, a reload): the address says the language
    asked = st.query_params.get("lang")
    st.session_state["lang"] = asked if asked in LANGS else lang()
st.set_page_config(page_title=t("app_title"), layout="wide",      # the browser's tab in the language too
                   page_icon=str(Path(__file__).parent / "static" / "favicon.png"))
st.query_params["lang"] = lang()
st.html(page_css(lang()))


def _switch_language() -> None:
    st.session_state["lang"] = other(lang())
    # Widgets keep their values under their new labels: the values are sent to the browser again
    # (a radio whose labels change would otherwise show no selection).
    for k, v in list(st.session_state.items()):
        if isinstance(v, (str, int, float)) and not isinstance(v, bool) and k != "lang":
            st.session_state[k] = v


with st.sidebar:
    st.markdown(f"**{t('app_title')}**")
    st.button(t("lang_switch"), key="lang_button", on_click=_switch_language)
    try:
        st.caption(f"{t('workspace')}{COLON(lang())}{workspace_name()}")
        if is_demo():
            st.caption(t("demo_note"))
    except GisError as e:
        st.error("\n".join(e.lines(lang())))
    st.text_input(t("editor_name"), key="editor_name")


def _lazy(module: str) -> Callable[[], None]:
    """The ``page()`` of ``ui.<module>``, imported when the page is first run (a page that is not opened costs
    no import time)."""
    def run() -> None:
        importlib.import_module(f"ui.{module}").page()

    run.__name__ = module
    return run


pages = [
    st.Page(_lazy("page_flood"), title=t("page_flood"), icon=":material/flood:", url_path="flood"),
    st.Page(_lazy("page_operations"), title=t("page_operations"), icon=":material/campaign:", url_path="operations"),
    st.Page(_lazy("page_fire"), title=t("page_fire"), icon=":material/local_fire_department:", url_path="fire"),
    st.Page(_lazy("page_data"), title=t("page_data"), icon=":material/layers:", url_path="data"),
    st.Page(_lazy("page_workspace"), title=t("page_workspace"), icon=":material/edit_note:", url_path="workspace"),
]


def _home() -> None:
    """``/``: the Flood page, at its own address (the default page of a navigation has none)."""
    st.switch_page(pages[0], query_params={"lang": lang()})


home = st.Page(_home, title=t("page_flood"), url_path="home", default=True, visibility="hidden")
try:
    nav = st.navigation([home, *pages])
    storage_banner()   # a damaged workspace (open read-only) or a read-only medium, above every page
    nav.run()
except GisError as e:
    # a layer that does not fit, a workspace that cannot be read or written: say what, in both languages
    st.error("\n".join(e.lines(lang())))
except Exception as e:  # never a traceback in the app; the details go to the server log
    if type(e).__module__.startswith("streamlit"):   # st.switch_page / st.rerun control flow
        raise
    logging.getLogger("app").exception("page failed")
    st.error(t("unexpected_error", err=f"{type(e).__name__}: {e}"[:300]))
