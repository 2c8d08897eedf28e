"""Teaching and inspection: the side-by-side HTML view of generated derivatives, Graphviz
pictures of tapes and of generated code's data flow, and rich notebook display.

* :func:`side_by_side` -- the user's function next to the generated adjoint (or tangent)
  code, block by block (``chainrule show --html``);
* :func:`render` -- a GradientTape's operation graph, or a generated function's
  primal/adjoint data flow, drawn by Graphviz's ``dot`` into an SVG, PNG or PDF file;
* :func:`dataflow_dot` -- the data-flow graph of a generated function as DOT text;
* :func:`function_html` / :func:`tape_html` -- what notebooks show for generated
  functions and tapes (their ``_repr_html_``).
"""

from .dataflow import dataflow_dot
from .html import function_html, side_by_side
from .pictures import GraphvizNotFoundError, render, tape_html, to_dot

__all__ = ["side_by_side", "function_html", "tape_html", "render", "to_dot", "dataflow_dot",
           "GraphvizNotFoundError"]
