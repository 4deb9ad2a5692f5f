"""The node canvas: a Vue Flow element (served from vendor/, no CDN) and the document <-> graph mapping."""

from app.ui.canvas.flow_canvas import FlowCanvas

__all__ = ["FlowCanvas"]
