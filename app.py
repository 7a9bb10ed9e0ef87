"""Streamlit entry point: page setup, language switch, navigation. ``streamlit run app.py``."""

import logging
from pathlib import Path

import streamlit as st

from layers.errors import LayerError
from ui import page_data, page_fire, page_flood, page_operations, page_workspace
from ui.i18n import lang, t
from ui.state import is_demo, workspace_name

st.set_page_config(page_title="洪涝转移避险与森林防灭火一张图", layout="wide",
                   page_icon=str(Path(__file__).parent / "static" / "favicon.png"))

if "lang" not in st.session_state:
    st.session_state["lang"] = lang()
with st.sidebar:
    st.markdown(f"**{t('app_title')}**")
    if st.button(t("lang_switch"), key="lang_button"):
        st.session_state["lang"] = "en" if lang() == "zh" else "zh"
        st.rerun()
    try:
        st.caption(f"{t('workspace')}{'：' if lang() == 'zh' else ': '}{workspace_name()}")
        if is_demo():
            st.caption(t("demo_note"))
    except LayerError as e:
        st.error("\n".join(e.lines(lang())))
    st.text_input(t("editor_name"), key="editor_name")

pages = [
    st.Page(page_flood.page, title=t("page_flood"), icon=":material/flood:", url_path="flood", default=True),
    st.Page(page_operations.page, title=t("page_operations"), icon=":material/campaign:", url_path="operations"),
    st.Page(page_fire.page, title=t("page_fire"), icon=":material/local_fire_department:", url_path="fire"),
    st.Page(page_data.page, title=t("page_data"), icon=":material/layers:", url_path="data"),
    st.Page(page_workspace.page, title=t("page_workspace"), icon=":material/edit_note:", url_path="workspace"),
]
try:
    st.navigation(pages).run()
except LayerError as e:  # a workspace file that does not fit its layer: say what, in both languages
    st.error("\n".join(e.lines(lang())))
except Exception as e:  # never a traceback in the app; the details go to the server log
    logging.getLogger("app").exception("page failed")
    st.error(t("unexpected_error", err=f"{type(e).__name__}: {e}"[:300]))
