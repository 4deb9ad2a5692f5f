// The flow canvas: Vue Flow drawing the nodes and edges Python sends, and reporting what the user
// does (add from the palette, connect, move, delete, select, shortcuts). Python keeps the flow
// document and is the source of truth; this only draws it and reports gestures.
import { h, inject, markRaw } from "vue";
import { VueFlow, Handle, Position, MarkerType, useVueFlow, BaseEdge, getSmoothStepPath } from "@vue-flow/core";
import dagre from "@dagrejs/dagre";
import { Background } from "@vue-flow/background";
import { Controls } from "@vue-flow/controls";
import { MiniMap } from "@vue-flow/minimap";

const FAMILY_ICONS = {
  trigger: "bolt", read: "download", filter: "filter_alt", map: "swap_horiz", transform: "auto_fix_high", write: "upload",
};
const READABLE_ZOOM = 0.75; // below this a node's 13 px name is under 10 px: fit-to-view stops here
const DRAG_THRESHOLD = 4; // pixels before a press on a palette item becomes a drag
const NOTE_COLORS = ["yellow", "blue", "green", "pink", "grey"];
const NOTE_WIDTH = 240;
const BACK_MARGIN = 24; // how far a back edge leaves its port before it turns down
const BACK_BELOW = 40; // how far under the lowest card between its ends a back edge runs
const LABEL_LIMIT = 60; // an edge label longer than this is cut (the whole text is in the side panel)
const TIDY = { rankdir: "LR", nodesep: 50, ranksep: 110 }; // ranksep leaves room for port and edge labels

function countsText(counts) {
  if (!counts) return null;
  const out = Object.entries(counts.out || {}).map(([port, n]) => (port === "out" ? `${n} out` : `${n} ${port}`));
  const written = ["inserted", "updated", "unchanged"].filter((k) => counts[k]).map((k) => `${counts[k]} ${k}`);
  const parts = [`${counts.in || 0} in`, ...out, ...written];
  if (counts.failed) parts.push(`${counts.failed} failed`);
  return parts.join(" · ");
}

// One node: a card with the family colour, its name and type, its ports and any problem.
const FlowbridgeNode = {
  props: ["id", "data", "selected"],
  setup(props) {
    return () => {
      const d = props.data;
      const problems = d.problems || [];
      const outputs = d.outputs || [];
      const handles = [];
      if ((d.inputs || []).length) {
        handles.push(h(Handle, { type: "target", position: Position.Left, id: d.inputs[0], class: "fb-handle" }));
      }
      outputs.forEach((port, i) => {
        const top = `${((i + 1) * 100) / (outputs.length + 1)}%`;
        handles.push(h(Handle, { type: "source", position: Position.Right, id: port, class: "fb-handle", style: { top } }));
        if (outputs.length > 1) handles.push(h("div", { class: "fb-port-label", style: { top } }, port));
      });
      const counts = countsText(d.counts);
      const failed = d.counts && d.counts.failed;
      return h("div", {
        class: ["fb-node", `fb-family-${d.family}`, { "fb-node-problem": problems.length, "fb-node-selected": props.selected }],
        title: problems.length ? problems.join("\n") : d.description || "",
        "data-node-id": props.id,
      }, [
        ...handles,
        h("div", { class: "fb-node-head" }, [
          h("i", { class: "material-icons fb-node-icon" }, FAMILY_ICONS[d.family] || "circle"),
          h("div", { class: "fb-node-titles" }, [
            h("div", { class: "fb-node-name" }, d.label),
            h("div", { class: "fb-node-type" }, `${d.typeTitle} · ${props.id}`),
          ]),
          problems.length ? h("div", { class: "fb-node-badge", title: problems.join("\n") }, String(problems.length)) : null,
        ]),
        problems.length ? h("div", { class: "fb-node-problem-text" }, problems[0]) : null,
        counts ? h("div", { class: ["fb-node-counts", { "fb-node-counts-failed": failed }] }, counts) : null,
        d.timing ? h("div", { class: "fb-node-timing" }, d.timing) : null,
      ]);
    };
  },
};

// A sticky note: its text is edited in place (typing is reported as it goes); the strip on top drags it.
const StickyNote = {
  props: ["id", "data", "selected"],
  setup(props) {
    const noteChanged = inject("noteChanged");
    const readonly = inject("canvasReadonly");
    return () => {
      const d = props.data;
      const color = d.color || "yellow";
      const next = NOTE_COLORS[(NOTE_COLORS.indexOf(color) + 1) % NOTE_COLORS.length];
      return h("div", {
        class: ["fb-note", `fb-note-${color}`, { "fb-note-selected": props.selected }],
        style: { width: `${d.width || NOTE_WIDTH}px` },
        "data-note-id": d.noteId,
      }, [
        h("div", { class: "fb-note-grip", title: "Drag to move; Delete removes a selected note" }, [
          h("i", { class: "material-icons" }, "sticky_note_2"),
          h("span", { class: "fb-note-label" }, "Note"),
          readonly ? null : h("button", {
            class: "fb-note-color nodrag", title: `Colour: ${next}`, type: "button",
            onClick: (e) => { e.stopPropagation(); noteChanged(d.noteId, { color: next }); },
          }, h("i", { class: "material-icons" }, "palette")),
        ]),
        h("textarea", {
          class: "fb-note-text nodrag nowheel", value: d.text, readonly: readonly, placeholder: "Write a note…",
          maxlength: 5000, "aria-label": "Sticky note",
          onInput: (e) => noteChanged(d.noteId, { text: e.target.value }),
        }),
      ]);
    };
  },
};

// An edge: a smooth step from port to port; one that runs back to a node on its left (a loop, or a
// flow laid out by hand) goes round under the cards between its ends, dashed, instead of through them.
const FlowEdge = {
  props: [
    "id", "sourceX", "sourceY", "targetX", "targetY", "sourcePosition", "targetPosition", "markerEnd", "label",
    "style", "labelStyle", "labelShowBg", "labelBgStyle", "labelBgPadding", "labelBgBorderRadius", "interactionWidth", "data",
  ],
  setup(props) {
    return () => {
      const back = props.targetX <= props.sourceX;
      let path, labelX, labelY;
      if (back) {
        const floor = Math.max(props.sourceY, props.targetY, (props.data && props.data.clearance) || 0) + BACK_BELOW;
        const out = props.sourceX + BACK_MARGIN, into = props.targetX - BACK_MARGIN;
        path = roundedPath([[props.sourceX, props.sourceY], [out, props.sourceY], [out, floor], [into, floor], [into, props.targetY], [props.targetX, props.targetY]]);
        labelX = (out + into) / 2;
        labelY = floor;
      } else {
        [path, labelX, labelY] = getSmoothStepPath({
          sourceX: props.sourceX, sourceY: props.sourceY, sourcePosition: props.sourcePosition,
          targetX: props.targetX, targetY: props.targetY, targetPosition: props.targetPosition,
        });
      }
      return h(BaseEdge, {
        id: props.id, path, labelX, labelY, label: props.label, markerEnd: props.markerEnd,
        style: back ? { ...(props.style || {}), strokeDasharray: "5 4" } : props.style,
        labelStyle: props.labelStyle, labelShowBg: props.labelShowBg, labelBgStyle: props.labelBgStyle,
        labelBgPadding: props.labelBgPadding, labelBgBorderRadius: props.labelBgBorderRadius,
        interactionWidth: props.interactionWidth,
      });
    };
  },
};

function roundedPath(points, radius = 8) {
  // straight segments through the points, each corner rounded
  let d = `M ${points[0][0]} ${points[0][1]}`;
  for (let i = 1; i < points.length - 1; i++) {
    const [px, py] = points[i - 1], [x, y] = points[i], [nx, ny] = points[i + 1];
    const r = Math.min(radius, Math.hypot(x - px, y - py) / 2, Math.hypot(nx - x, ny - y) / 2);
    const ax = x - Math.sign(x - px) * r, ay = y - Math.sign(y - py) * r;
    const bx = x + Math.sign(nx - x) * r, by = y + Math.sign(ny - y) * r;
    d += ` L ${ax} ${ay} Q ${x} ${y} ${bx} ${by}`;
  }
  const [lx, ly] = points[points.length - 1];
  return `${d} L ${lx} ${ly}`;
}

function cut(text) {
  return text.length > LABEL_LIMIT ? `${text.slice(0, LABEL_LIMIT - 1)}…` : text;
}

export default {
  template: `
    <div class="fb-canvas" ref="box" @dblclick="onDoubleClick">
      <VueFlow :id="flowId" v-model:nodes="nodes" v-model:edges="edges" :node-types="nodeTypes" :edge-types="edgeTypes"
               :min-zoom="0.1" :max-zoom="2" :delete-key-code="readonly ? null : ['Backspace', 'Delete']"
               :nodes-draggable="!readonly" :nodes-connectable="!readonly" :edges-updatable="!readonly"
               :default-edge-options="edgeDefaults" :connection-radius="30" :snap-to-grid="true" :snap-grid="[10, 10]"
               :zoom-on-double-click="readonly"
               @nodes-change="onNodesChange" @edges-change="onEdgesChange" @connect="onConnect"
               @node-drag-stop="onDragStop" @selection-drag-stop="onDragStop" @nodes-initialized="onInitialized"
               @pane-click="onPaneClick" @node-click="onNodeClick">
        <Background pattern-color="#cbd5e1" :gap="20" />
        <Controls position="bottom-left" />
        <MiniMap v-if="showMiniMap" position="bottom-right" pannable zoomable :width="150" :height="96" :node-color="miniMapColor" />
      </VueFlow>
      <div v-if="!nodes.length && !readonly" class="fb-empty-hint">
        <i class="material-icons">touch_app</i>
        <div>Drag a node type from the palette onto the canvas (or double-click it to search), then drag from a node's right port to another's left port.</div>
      </div>
    </div>`,
  components: { VueFlow, Background, Controls, MiniMap },
  // readonly: a run's graph to look at (click a node to select it); nothing can be moved or changed
  props: { graph: Object, flowId: String, readonly: Boolean },
  data() {
    return {
      nodes: [],
      edges: [],
      nodeTypes: { flowbridge: markRaw(FlowbridgeNode), note: markRaw(StickyNote) },
      edgeTypes: { flow: markRaw(FlowEdge) },
      edgeDefaults: { type: "flow", markerEnd: MarkerType.ArrowClosed },
      selection: { nodes: [], edges: [] },
      height: 0,
    };
  },
  computed: {
    // The minimap helps with large flows; on a short canvas it would hide the nodes it maps.
    showMiniMap() {
      return this.nodes.length >= 6 && this.height >= 420;
    },
  },
  setup(props) {
    const flow = useVueFlow(props.flowId);
    return { flow };
  },
  provide() {
    return { noteChanged: (id, change) => this.onNoteChange(id, change), canvasReadonly: this.readonly };
  },
  mounted() {
    // An empty canvas keeps zoom 1 while the first nodes are dropped; a drawn flow is fitted once.
    this.fitted = !(this.graph && this.graph.nodes && this.graph.nodes.length);
    this.quiet = 0; // > 0 while Python's own changes are applied: they are not reported back
    this.pendingRemovals = { nodes: new Set(), edges: new Set() };
    this.setGraph(this.graph || { nodes: [], edges: [] });
    this.onKey = (event) => this.shortcut(event);
    this.onPointerDown = (event) => this.paletteDown(event);
    if (!this.readonly) {
      document.addEventListener("keydown", this.onKey);
      document.addEventListener("pointerdown", this.onPointerDown);
    }
    this.resizer = new ResizeObserver(() => {
      this.height = this.$refs.box.clientHeight;
      // fitting before Vue Flow has measured the nodes would fit nothing: wait for onInitialized
      if (!this.fitted && this.initialized && this.nodes.length && this.$refs.box.clientWidth > 0) this.fit();
    });
    this.resizer.observe(this.$refs.box);
    this.$emit("ready");
  },
  unmounted() {
    document.removeEventListener("keydown", this.onKey);
    document.removeEventListener("pointerdown", this.onPointerDown);
    this.resizer.disconnect();
  },
  methods: {
    // --- Python -> canvas ---------------------------------------------------------------------------
    setGraph(graph) {
      this.quiet++;
      const selected = new Set(this.selection.nodes);
      // a note is drawn under the nodes, so a node dropped on it stays in reach
      this.nodes = graph.nodes.map((n) => ({
        ...n, type: n.type || "flowbridge", selected: selected.has(n.id), zIndex: n.type === "note" ? -1 : 0,
      }));
      this.edges = graph.edges.map((e) => this.styledEdge(e));
      this.$nextTick(() => this.quiet--);
    },
    patchNodes(patches) {
      // {id: {data fields}}: names, problems and counts change without redrawing the graph
      this.quiet++;
      this.nodes = this.nodes.map((n) => (patches[n.id] ? { ...n, data: { ...n.data, ...patches[n.id] } } : n));
      this.$nextTick(() => this.quiet--);
    },
    setEdgeDecorations(decorations) {
      // {edgeId: {problems: [...], count: n}}; edges not named lose their decorations
      this.quiet++;
      this.edges = this.edges.map((e) => this.styledEdge({ ...e, data: { ...e.data, ...(decorations[e.id] || { problems: [], count: null }) } }));
      this.$nextTick(() => this.quiet--);
    },
    isBackEdge(edge) {
      // An edge that runs right to left (a loop being drawn, or a flow laid out by hand): FlowEdge
      // takes it round under the cards between its ends, drawn above the others.
      const at = (id) => this.nodes.find((n) => n.id === id);
      const source = at(edge.source), target = at(edge.target);
      return Boolean(source && target && target.position.x <= source.position.x);
    },
    clearance(edge) {
      // the lowest card bottom between a back edge's ends, where it may pass under them
      const at = (id) => this.nodes.find((n) => n.id === id);
      const source = at(edge.source), target = at(edge.target);
      if (!source || !target) return 0;
      const height = (n) => (this.flow && this.flow.findNode(n.id)?.dimensions?.height) || 80;
      const width = (n) => (this.flow && this.flow.findNode(n.id)?.dimensions?.width) || 180;
      const left = target.position.x, right = source.position.x + width(source);
      return Math.max(0, ...this.nodes
        .filter((n) => n.type !== "note" && n.position.x + width(n) >= left && n.position.x <= right)
        .map((n) => n.position.y + height(n)));
    },
    styledEdge(edge) {
      const data = edge.data || {};
      const back = this.isBackEdge(edge);
      const problems = data.problems || [];
      // The port's name is on its node already (beside the handle): an edge label repeating it
      // would sit on the port labels of a close neighbour. An edge says only its records and problems.
      const parts = [];
      if (data.count !== null && data.count !== undefined) parts.push(`${data.count} record${data.count === 1 ? "" : "s"}`);
      if (problems.length) parts.push(`⚠ ${cut(problems[0])}`);
      const kind = problems.length ? "fb-edge-problem" : data.count !== null && data.count !== undefined ? "fb-edge-counted" : "";
      return {
        ...edge,
        data: back ? { ...data, clearance: this.clearance(edge) } : data,
        label: parts.join(" · "),
        class: back ? `${kind} fb-edge-back` : kind,
        zIndex: back ? 1 : 0,
        animated: data.count > 0,
        labelBgPadding: [6, 3],
        labelBgBorderRadius: 4,
      };
    },
    fit(afterResize) {
      this.fitted = true;
      // after the canvas changes size (results panel), wait for Vue Flow to measure it again
      if (afterResize) setTimeout(() => this.fitReadable(), 80);
      else this.fitReadable();
    },
    async fitReadable() {
      // The whole flow when it fits at a readable zoom; a bigger one opens at its start (the
      // leftmost node, where a flow begins), readable, its vertical middle kept; pan for the rest.
      await this.flow.fitView({ padding: 0.1, maxZoom: 1.2 });
      const fitted = this.flow.getViewport();
      if (fitted.zoom < READABLE_ZOOM && this.nodes.length) {
        const height = this.$refs.box.clientHeight;
        const middle = (height / 2 - fitted.y) / fitted.zoom;
        const left = Math.min(...this.nodes.map((n) => n.position.x));
        await this.flow.setViewport({ x: 40 - left * READABLE_ZOOM, y: height / 2 - middle * READABLE_ZOOM, zoom: READABLE_ZOOM });
      }
      this.$refs.box.dataset.fits = String(Number(this.$refs.box.dataset.fits || 0) + 1); // tests wait on it
    },
    async showNode(id) {
      // Find a node on a big canvas: bring it to the middle at a readable zoom, selected.
      await this.flow.fitView({ nodes: [id], padding: 0.5, minZoom: READABLE_ZOOM, maxZoom: 1 });
      this.selectNodes([id]);
    },
    selectNodes(ids) {
      const wanted = new Set(ids);
      this.quiet++;
      this.nodes = this.nodes.map((n) => ({ ...n, selected: wanted.has(n.id) }));
      this.$nextTick(() => this.quiet--);
      this.selection = { nodes: [...wanted], edges: [] };
    },
    tidyUp() {
      // dagre lays the nodes out left to right by their measured size; the flow keeps its top-left
      // corner, and each note moves with the node nearest to it. Python stores it (one undo step).
      const cards = this.flow.getNodes.value;
      const nodes = cards.filter((n) => n.type !== "note");
      if (!nodes.length) return;
      const graph = new dagre.graphlib.Graph();
      graph.setGraph(TIDY);
      graph.setDefaultEdgeLabel(() => ({}));
      const size = (n) => ({ width: n.dimensions.width || 180, height: n.dimensions.height || 60 });
      nodes.forEach((n) => graph.setNode(n.id, size(n)));
      this.edges.forEach((e) => { if (graph.hasNode(e.source) && graph.hasNode(e.target)) graph.setEdge(e.source, e.target); });
      dagre.layout(graph);
      const placed = nodes.map((n) => {
        const laid = graph.node(n.id);
        return { id: n.id, x: laid.x - size(n).width / 2, y: laid.y - size(n).height / 2 };
      });
      const dx = Math.min(...nodes.map((n) => n.position.x)) - Math.min(...placed.map((p) => p.x));
      const dy = Math.min(...nodes.map((n) => n.position.y)) - Math.min(...placed.map((p) => p.y));
      const moved = placed.map((p) => ({ id: p.id, x: Math.round((p.x + dx) / 10) * 10, y: Math.round((p.y + dy) / 10) * 10 }));
      const by = Object.fromEntries(moved.map((p) => [p.id, p]));
      for (const note of cards.filter((n) => n.type === "note")) {
        const centre = (n) => ({ x: n.position.x + size(n).width / 2, y: n.position.y + size(n).height / 2 });
        const c = centre(note);
        const nearest = nodes.reduce((best, n) => {
          const d = Math.hypot(centre(n).x - c.x, centre(n).y - c.y);
          return !best || d < best.d ? { n, d } : best;
        }, null).n;
        moved.push({
          id: note.id,
          x: Math.round(note.position.x + by[nearest.id].x - nearest.position.x),
          y: Math.round(note.position.y + by[nearest.id].y - nearest.position.y),
        });
      }
      this.$emit("tidied", moved);
    },
    viewCentre() {
      const box = this.$refs.box.getBoundingClientRect();
      return this.flow.screenToFlowCoordinate({ x: box.left + box.width / 2, y: box.top + box.height / 2 });
    },
    addNoteInView() {
      const at = this.viewCentre();
      this.$emit("quickadd", { x: Math.round(at.x - NOTE_WIDTH / 2), y: Math.round(at.y - 40), note: true });
    },
    focusNote(noteId) {
      // a new note is ready to type into once it is drawn
      setTimeout(() => this.$el.querySelector(`[data-note-id="${noteId}"] textarea`)?.focus(), 120);
    },
    counts() {
      // What is drawn, for tests and the load benchmark: nodes and edges in the DOM.
      return {
        nodes: this.$el.querySelectorAll(".vue-flow__node").length,
        edges: this.$el.querySelectorAll(".vue-flow__edge").length,
      };
    },
    // --- canvas -> Python ---------------------------------------------------------------------------
    onNoteChange(id, change) {
      // keep what is typed in the drawn note too, so a redraw before Python answers loses nothing
      this.quiet++;
      this.nodes = this.nodes.map((n) => (n.data && n.data.noteId === id ? { ...n, data: { ...n.data, ...change } } : n));
      this.$nextTick(() => this.quiet--);
      if (change.text !== undefined) {
        clearTimeout(this.noteTimers?.[id]);
        this.noteTimers = this.noteTimers || {};
        this.noteTimers[id] = setTimeout(() => this.$emit("note", { id, text: change.text }), 250);
      } else this.$emit("note", { id, ...change });
    },
    onDoubleClick(event) {
      // quick-add: a double-click on the empty canvas asks what to add there
      if (this.readonly || !event.target.closest(".vue-flow__pane") || event.target.closest(".vue-flow__node")) return;
      const at = this.flow.screenToFlowCoordinate({ x: event.clientX, y: event.clientY });
      this.$emit("quickadd", { x: Math.round(at.x - 20), y: Math.round(at.y - 20) });
    },
    onInitialized() {
      this.initialized = true;
      if (!this.fitted && this.$refs.box.clientWidth > 0) {
        this.fit();
        // the first fit can see the pane before its final size (the page is still laying out): fit once more
        setTimeout(() => this.fitReadable(), 150);
      }
      this.$emit("drawn", this.counts());
    },
    onNodesChange(changes) {
      if (this.quiet) return;
      let selectionChanged = false;
      for (const change of changes) {
        if (change.type === "remove") this.pendingRemovals.nodes.add(change.id);
        if (change.type === "select") selectionChanged = true;
      }
      this.flushSoon(selectionChanged);
    },
    onEdgesChange(changes) {
      if (this.quiet) return;
      let selectionChanged = false;
      for (const change of changes) {
        if (change.type === "remove") this.pendingRemovals.edges.add(change.id);
        if (change.type === "select") selectionChanged = true;
      }
      this.flushSoon(selectionChanged);
    },
    flushSoon(selectionChanged) {
      this.selectionDirty = this.selectionDirty || selectionChanged;
      if (this.flushTimer) return;
      this.flushTimer = setTimeout(() => {
        this.flushTimer = null;
        const removed = { nodes: [...this.pendingRemovals.nodes], edges: [...this.pendingRemovals.edges] };
        this.pendingRemovals = { nodes: new Set(), edges: new Set() };
        if (removed.nodes.length || removed.edges.length) this.$emit("remove", removed);
        if (this.selectionDirty) {
          this.selectionDirty = false;
          const nodes = this.flow.getSelectedNodes.value.map((n) => n.id);
          const edges = this.flow.getSelectedEdges.value.map((e) => e.id);
          if (nodes.join() !== this.selection.nodes.join() || edges.join() !== this.selection.edges.join()) {
            this.selection = { nodes, edges };
            this.$emit("selection", this.selection);
          }
        }
      }, 0);
    },
    onConnect(connection) {
      this.$emit("connect", {
        source: connection.source, sourceHandle: connection.sourceHandle,
        target: connection.target, targetHandle: connection.targetHandle,
      });
    },
    onDragStop(event) {
      const moved = (event.nodes || [event.node]).filter(Boolean).map((n) => ({
        id: n.id, x: Math.round(n.position.x), y: Math.round(n.position.y),
      }));
      if (moved.length) this.$emit("moved", moved);
    },
    onNodeClick() {
      // A click on a node that was already selected changes nothing in Vue Flow; say it anyway,
      // so the side panel always shows what was clicked.
      setTimeout(() => {
        this.selection = {
          nodes: this.flow.getSelectedNodes.value.map((n) => n.id),
          edges: this.flow.getSelectedEdges.value.map((e) => e.id),
        };
        this.$emit("selection", this.selection);
      }, 0);
    },
    onPaneClick() {
      if (this.selection.nodes.length || this.selection.edges.length) {
        this.selection = { nodes: [], edges: [] };
        this.$emit("selection", this.selection);
      }
    },
    shortcut(event) {
      const target = event.target;
      const typing = target && (["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName) || target.isContentEditable);
      const mod = event.ctrlKey || event.metaKey;
      if (!mod && !typing && (event.key === "?" || event.key === "/")) {
        event.preventDefault();
        if (event.key === "?") this.$emit("shortcut", { action: "help", selection: this.selection });
        else document.querySelector(".fb-palette-search input")?.focus(); // quick-add: type, then Enter
        return;
      }
      if (!mod && !typing && event.shiftKey && event.altKey && event.code === "KeyT") {
        event.preventDefault();
        this.$emit("shortcut", { action: "tidy", selection: this.selection });
        return;
      }
      if (!mod && !typing && event.shiftKey && !event.altKey && event.code === "KeyS") {
        event.preventDefault();
        this.addNoteInView();
        return;
      }
      if (!mod) return;
      const key = event.key.toLowerCase();
      if (key === "s") {
        event.preventDefault();
        this.$emit("shortcut", { action: "save", selection: this.selection });
        return;
      }
      if (typing) return; // text fields keep their own undo, copy and paste
      const action = { z: event.shiftKey ? "redo" : "undo", y: "redo", c: "copy", x: "cut", v: "paste", d: "duplicate", a: "select_all" }[key];
      if (!action) return;
      event.preventDefault();
      this.$emit("shortcut", { action, selection: this.selection });
    },
    // --- dragging a node type from the palette (pointer events, so any mouse or test driver works) ---
    paletteDown(event) {
      const item = event.target.closest && event.target.closest("[data-fb-type]");
      if (!item || event.button !== 0) return;
      const start = { x: event.clientX, y: event.clientY };
      let ghost = null;
      const move = (e) => {
        if (!ghost && Math.hypot(e.clientX - start.x, e.clientY - start.y) < DRAG_THRESHOLD) return;
        if (!ghost) {
          ghost = document.createElement("div");
          ghost.className = `fb-drag-ghost fb-family-${item.dataset.fbFamily}`;
          ghost.textContent = item.dataset.fbTitle;
          document.body.appendChild(ghost);
          document.body.classList.add("fb-dragging");
        }
        ghost.style.left = `${e.clientX + 8}px`;
        ghost.style.top = `${e.clientY + 8}px`;
        e.preventDefault();
      };
      const up = (e) => {
        document.removeEventListener("pointermove", move);
        document.removeEventListener("pointerup", up);
        if (!ghost) return;
        ghost.remove();
        document.body.classList.remove("fb-dragging");
        const box = this.$refs.box.getBoundingClientRect();
        if (e.clientX < box.left || e.clientX > box.right || e.clientY < box.top || e.clientY > box.bottom) return;
        const at = this.flow.screenToFlowCoordinate({ x: e.clientX, y: e.clientY });
        // the drop point is the card's top-left corner, a little up-left so the pointer lands on its title
        this.$emit("add", { type: item.dataset.fbType, x: Math.round(at.x - 20), y: Math.round(at.y - 20) });
      };
      document.addEventListener("pointermove", move);
      document.addEventListener("pointerup", up);
    },
    miniMapColor(node) {
      return { trigger: "#7c3aed", read: "#2563eb", filter: "#d97706", map: "#059669", transform: "#0891b2", write: "#db2777" }[node.data.family] || "#64748b";
    },
  },
};
