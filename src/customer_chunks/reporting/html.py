"""Write an executed report notebook as one self-contained HTML file.

nbconvert's ``lab`` template without its CDN scripts; matplotlib figures stay inline
PNGs; a plotly output (``application/vnd.plotly.v1+json``, alone or in a bundle that
also carries a static ``image/png`` for the PDF) becomes an interactive div, with
plotly.js inlined once. Nothing is fetched from the network when the page is opened.
O(size of the outputs); plotly.js adds about 4.6 MB once.
"""

from __future__ import annotations

import copy
import html as _html
import json
import re
from typing import Any

from customer_chunks.reporting.errors import ReportError
from customer_chunks.reporting.notebook import PLOTLY_MIME

__all__ = ["notebook_to_html"]


_HTML_TEMPLATE = """\
{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">
body.jp-Notebook { max-width: 1100px; margin: 0 auto; padding: 1.5rem 2rem 4rem; }
.jp-Cell { padding: 0; }
.jp-InputPrompt, .jp-OutputPrompt { display: none; }
.jp-RenderedHTMLCommon h1:first-child { margin-top: 0.5rem; }
.jp-RenderedHTMLCommon .cc-title { text-align: center; margin-bottom: 0.2rem; }
.jp-RenderedHTMLCommon p.cc-subtitle { text-align: center; font-style: italic; font-size: 1.15em; }
.jp-RenderedHTMLCommon p.cc-byline { text-align: center; color: #555; }
.jp-RenderedHTMLCommon p.cc-caption { text-align: center; font-style: italic; color: #555; }
.jp-RenderedImage { text-align: center; }
.jp-RenderedImage img { max-width: 100%; height: auto; }
.plotly-graph-div { max-width: 100%; }
</style>
{%- endblock extra_css -%}
{%- block data_png scoped -%}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
 alt="{{ output.metadata.get('cc_alt', 'Figure') | escape_html }}">
</div>
{%- endblock data_png -%}
"""


def _alt_text(cell: Any) -> str:
    """Alternative text for a cell's images: its ``fig-cap``, else its label."""
    options = cell.metadata.get("quarto", {}).get("options", {})
    if options.get("fig-cap"):
        return str(options["fig-cap"])
    label = str(options.get("label") or "")
    label = label.removeprefix("fig-").replace("-", " ").strip()
    return f"Figure: {label}" if label else "Figure"


def notebook_to_html(nb: Any) -> str:
    """Self-contained HTML for an executed notebook (no external script or stylesheet)."""
    import jinja2
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    nb = copy.deepcopy(nb)
    _plotly_outputs_to_html(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if "image/png" in output.get("data", {}):
                    output.setdefault("metadata", {})["cc_alt"] = _alt_text(cell)
        if cell.cell_type != "markdown":
            continue
        if "cc_title" in cell.metadata:
            parts = cell.metadata["cc_title"]
            cell.source = "\n".join(
                f'<{tag} class="cc-{cls}">{_html.escape(parts[cls])}</{tag}>'
                for tag, cls in (("h1", "title"), ("p", "subtitle"), ("p", "byline"))
                if parts.get(cls)
            )
        elif cell.metadata.get("cc_caption"):
            text = cell.source.strip().strip("*")
            cell.source = f'<p class="cc-caption">{_html.escape(text)}</p>'
    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {"remove_cell"}
    config.TagRemovePreprocessor.remove_input_tags = {"remove_input"}
    config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove_output"}
    exporter = HTMLExporter(
        config=config,
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({"cc_report.html.j2": _HTML_TEMPLATE})],
        template_file="cc_report.html.j2",
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nb)
    external = re.findall(r"<(?:script|link)\b[^>]*(?:src|href)=[\"']https?://[^\"']*", body)
    if external:
        raise ReportError(f"HTML would load external resources: {external[:3]}")
    return body


def _plotly_outputs_to_html(nb: Any) -> None:
    """Replace plotly outputs (and the static PNG beside them) by divs; plotly.js is
    inlined with the first one."""
    try:
        import plotly.io as pio
    except ImportError:
        return
    first = True
    for cell in nb.cells:
        for output in getattr(cell, "outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIME not in data:
                continue
            fig = data[PLOTLY_MIME]
            if isinstance(fig, str):
                fig = json.loads(fig)
            div = pio.to_html(
                fig,
                include_plotlyjs=first,
                full_html=False,
                validate=False,
                config={"responsive": True, "displaylogo": False},
                default_width="100%",
            )
            first = False
            output["data"] = {"text/html": div}
