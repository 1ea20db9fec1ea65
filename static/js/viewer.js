// The image viewer of comparisons and web tests: full-size images of one row with zoom and pan
// synced across all of them, a before/after slider between two columns, and a difference map.
// Plain JS, no framework. `new GanViewer(root, {columns, state, onPrevious, onNext, onClose,
// onState, faces})`; `viewer.setColumns(columns)` when renders land. A column is
// {key, label, sub, url, state, error}; the first one is the input. `faces` (optional, the row's
// face analysis: {state, count, faces_url, mask_url, crop_size, crops}) adds the "Faces" and
// "Eye mask" overlays (drawn by static/js/faces.js) and, for face filters (crop_size set), the
// "Face crop" mode: per face, what every version saw (the input's crop at the network's input
// size, with its landmarks) beside what each one made (its output cut with the same crop).
(() => {
  const MIN_SCALE = 1;
  const MAX_SCALE = 64;
  const STEP = 1.25;
  const MODES = [
    ["side", "Side by side"],
    ["slider", "Slider"],
    ["diff", "Difference"],
    ["crop", "Face crop"],
  ];

  // Colour ramp for differences: black → violet → red → orange → pale yellow (like "inferno").
  const RAMP_STOPS = [
    [0, [0, 0, 4]],
    [0.25, [87, 16, 110]],
    [0.5, [188, 55, 84]],
    [0.75, [249, 142, 9]],
    [1, [252, 255, 164]],
  ];
  const SCALE_TICKS = [0, 64, 128, 192, 255]; // levels labelled under the colour bar
  const RAMP = (() => {
    const table = new Uint8ClampedArray(256 * 3);
    for (let i = 0; i < 256; i++) {
      const t = i / 255;
      let k = 0;
      while (k < RAMP_STOPS.length - 2 && t > RAMP_STOPS[k + 1][0]) k++;
      const [t0, c0] = RAMP_STOPS[k];
      const [t1, c1] = RAMP_STOPS[k + 1];
      const f = (t - t0) / (t1 - t0);
      for (let c = 0; c < 3; c++) table[i * 3 + c] = c0[c] + f * (c1[c] - c0[c]);
    }
    return table;
  })();

  const el = window.GanStudio.el;

  const loadImage = (url) =>
    new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => resolve(image);
      image.onerror = () => reject(new Error(`could not load ${url}`));
      image.src = url;
    });

  class GanViewer {
    constructor(root, options = {}) {
      this.root = root;
      this.options = options;
      this.columns = [];
      const state = options.state || {};
      this.faces = options.faces || null;
      // Extra modes a page adds ({mode, label, render(area)}), e.g. "Why" (static/js/why.js).
      this.extraModes = options.extraModes || [];
      this.modes = [
        ...MODES.filter(([m]) => m !== "crop" || (this.faces && this.faces.crop_size)),
        ...this.extraModes.map((extra) => [extra.mode, extra.label]),
      ];
      this.mode = this.modes.some(([m]) => m === state.mode) ? state.mode : "side";
      this.faceIndex = Math.max(0, Number(state.face) || 0);
      this.overlays = { faces: false, mask: false };
      this.analysis = null; // the row's faces in photo pixels, fetched when the overlay is first on
      this.view = { s: Number(state.zoom) || 1, fx: Number(state.px) || 0, fy: Number(state.py) || 0 };
      this.split = Math.min(1, Math.max(0, Number(state.split ?? 0.5)));
      this.pair = { left: state.left, right: state.right, a: state.a, b: state.b };
      this.gain = Number(state.gain) || 1;
      this.panes = [];
      this.diffToken = 0;
      this.build();
      this.setColumns(options.columns || []);
      this.keyHandler = (event) => this.onKey(event);
      document.addEventListener("keydown", this.keyHandler);
      window.addEventListener("resize", () => this.applyView());
    }

    // ---- structure ---------------------------------------------------------------------------
    build() {
      this.root.classList.add("gan-viewer");
      this.root.replaceChildren();
      const modeBar = el("div", { className: "viewer-modes", role: "group", "aria-label": "View" });
      this.modeButtons = this.modes.map(([mode, label]) => {
        const button = el("button", { type: "button", "data-mode": mode, "data-testid": `mode-${mode}`, text: label });
        button.addEventListener("click", () => this.setMode(mode));
        modeBar.append(button);
        return button;
      });
      this.pickers = el("div", { className: "viewer-pickers" });
      const zoomBar = el("div", { className: "viewer-zoom", role: "group", "aria-label": "Zoom" });
      const out = el("button", { type: "button", "aria-label": "Zoom out", text: "−" });
      const into = el("button", { type: "button", "aria-label": "Zoom in", text: "+" });
      const fit = el("button", { type: "button", text: "Fit" });
      this.zoomLabel = el("span", { className: "zoom-label", "data-testid": "zoom-label" });
      out.addEventListener("click", () => this.zoomCentre(1 / STEP));
      into.addEventListener("click", () => this.zoomCentre(STEP));
      fit.addEventListener("click", () => this.reset());
      zoomBar.append(out, this.zoomLabel, into, fit);
      const copy = el("button", { type: "button", text: "Copy link", "data-testid": "copy-link" });
      copy.addEventListener("click", () => {
        navigator.clipboard?.writeText(window.location.href);
        copy.textContent = "Link copied";
        setTimeout(() => (copy.textContent = "Copy link"), 1500);
      });
      const toolbar = el("div", { className: "viewer-toolbar" }, modeBar, this.pickers, this.buildOverlayToggles(), zoomBar);
      if (this.options.shareable !== false) toolbar.append(copy);
      this.note = el("p", { className: "viewer-note", "data-testid": "viewer-note", role: "status" });
      this.stageArea = el("div", { className: "viewer-area" });
      this.root.append(toolbar, this.note, this.stageArea);
    }

    // The "Faces" and "Eye mask" toggles (only when the row has a face analysis to show).
    buildOverlayToggles() {
      this.overlayBar = el("div", { className: "viewer-overlays", role: "group", "aria-label": "Overlays" });
      this.updateOverlayToggles();
      return this.overlayBar;
    }

    updateOverlayToggles() {
      const faces = this.faces;
      this.overlayBar.replaceChildren();
      if (!faces) return;
      const toggle = (name, label, enabled, title) => {
        const box = el("input", { type: "checkbox", "data-testid": `viewer-toggle-${name}`, disabled: !enabled });
        box.checked = enabled && this.overlays[name];
        box.addEventListener("change", () => this.setOverlay(name, box.checked));
        return el("label", { className: "pick", title }, box, ` ${label}`);
      };
      const found = faces.state === "done" && faces.count > 0;
      const why =
        faces.state === "pending" ? "The face analysis is pending (a worker runs it in the background)."
        : faces.state !== "done" ? `The face analysis ${faces.state}: ${faces.error}`
        : faces.count ? `${faces.count} face${faces.count === 1 ? "" : "s"} found by ${faces.detector}` : "No face found in this photo.";
      this.overlayBar.append(
        toggle("faces", "Faces", found, why),
        toggle("mask", "Eye mask", Boolean(faces.mask_url), faces.mask_url ? "The eye mask 4-channel versions use" : "This photo has no eye mask."),
      );
    }

    async setOverlay(name, on) {
      this.overlays[name] = on;
      if (name === "faces" && on && !this.analysis) {
        try {
          const response = await fetch(this.faces.faces_url, { credentials: "same-origin", headers: { Accept: "application/json" } });
          if (!response.ok) throw new Error(`the server answered ${response.status}`);
          this.analysis = await response.json();
        } catch (error) {
          this.note.textContent = `The faces could not be loaded: ${error.message}. Reload the page to try again.`;
          return;
        }
      }
      this.render();
    }

    setFaces(faces) {
      if (JSON.stringify(faces || null) === JSON.stringify(this.faces)) return;
      this.faces = faces || null;
      this.updateOverlayToggles();
      this.render();
    }

    // The overlays on one image of the photo (input or a whole output), in the input's pixels.
    decorate(stage) {
      const input = this.columns[0];
      if (!this.faces || !input) return;
      if (this.overlays.mask && this.faces.mask_url) {
        stage.append(el("img", { className: "mask-overlay", src: this.faces.mask_url, alt: "", draggable: "false", "data-testid": "viewer-mask-overlay" }));
      }
      if (this.overlays.faces && this.analysis && input.width && input.height) {
        const svg = window.GanFaces.overlay(input.width, input.height);
        svg.dataset.testid = "viewer-face-overlay";
        window.GanFaces.draw(svg, this.analysis, input.width, input.height);
        stage.append(svg);
      }
    }

    setColumns(columns) {
      const before = JSON.stringify(this.columns.map((c) => [c.key, c.url, c.state]));
      this.columns = columns;
      const keys = columns.map((c) => c.key);
      const ready = columns.filter((c) => c.url).map((c) => c.key);
      const pick = (value, fallback) => (keys.includes(value) ? value : fallback);
      this.pair.left = pick(this.pair.left, keys[0]);
      this.pair.right = pick(this.pair.right, ready.find((k) => k !== keys[0]) || keys[1] || keys[0]);
      // The difference compares versions by default (the first two shown), as planners do;
      // with a single version, that version and the input.
      const versions = keys.slice(1);
      this.pair.a = pick(this.pair.a, versions[0] || keys[0]);
      this.pair.b = pick(this.pair.b, versions[1] || keys[0]);
      if (JSON.stringify(columns.map((c) => [c.key, c.url, c.state])) !== before) this.render();
    }

    column(key) {
      return this.columns.find((c) => c.key === key);
    }

    setMode(mode) {
      this.mode = mode;
      this.render();
      this.emitState();
    }

    render() {
      for (const button of this.modeButtons) {
        button.setAttribute("aria-pressed", String(button.dataset.mode === this.mode));
      }
      this.root.dataset.mode = this.mode;
      this.renderPickers();
      this.panes = [];
      this.stageArea.replaceChildren();
      this.note.textContent = "";
      if (this.mode === "side") this.renderSide();
      else if (this.mode === "slider") this.renderSlider();
      else if (this.mode === "crop") this.renderCrop();
      else if (this.mode === "diff") this.renderDiff();
      else this.extraModes.find((extra) => extra.mode === this.mode)?.render(this.stageArea, this);
      this.applyView();
    }

    renderPickers() {
      const select = (name, label, value, onChange, { readyOnly = true } = {}) => {
        const box = el("select", { "data-pick": name, "aria-label": label });
        for (const c of this.columns) {
          const option = el("option", { value: c.key, text: c.label });
          if (readyOnly && !c.url) option.disabled = true;
          if (c.key === value) option.selected = true;
          box.append(option);
        }
        box.addEventListener("change", () => {
          onChange(box.value);
          this.render();
          this.emitState();
        });
        return el("label", { className: "pick" }, `${label} `, box);
      };
      this.pickers.replaceChildren();
      if (this.mode === "slider") {
        this.pickers.append(
          select("left", "Left", this.pair.left, (v) => (this.pair.left = v)),
          select("right", "Right", this.pair.right, (v) => (this.pair.right = v)),
        );
      } else if (this.mode === "crop") {
        const crops = this.faces ? this.faces.crops : [];
        if (crops.length > 1) {
          const box = el("select", { "data-pick": "face", "aria-label": "Face" });
          crops.forEach((_, i) => {
            const option = el("option", { value: i, text: `Face ${i + 1} of ${crops.length}` });
            if (i === this.faceIndex) option.selected = true;
            box.append(option);
          });
          box.addEventListener("change", () => {
            this.faceIndex = Number(box.value);
            this.render();
            this.emitState();
          });
          this.pickers.append(el("label", { className: "pick" }, "Face ", box));
        }
      } else if (this.mode === "diff") {
        const gain = el("select", { "data-pick": "gain", "aria-label": "Gain" });
        for (const g of [1, 2, 4, 8, 16]) {
          const option = el("option", { value: g, text: `×${g}` });
          if (g === this.gain) option.selected = true;
          gain.append(option);
        }
        gain.addEventListener("change", () => {
          this.gain = Number(gain.value);
          this.render();
          this.emitState();
        });
        this.pickers.append(
          select("a", "Difference of", this.pair.a, (v) => (this.pair.a = v)),
          select("b", "and", this.pair.b, (v) => (this.pair.b = v)),
          el("label", { className: "pick" }, "Gain ", gain),
        );
      }
    }

    makePane(extraClass = "", aspect = null) {
      const pane = el("div", { className: `viewer-pane ${extraClass}`.trim() });
      const input = this.columns[0];
      if (aspect) pane.style.setProperty("--ar", String(aspect));
      else if (input && input.width && input.height) pane.style.setProperty("--ar", String(input.width / input.height));
      this.attachGestures(pane);
      return pane;
    }

    makeStage(column) {
      const stage = el("div", { className: "viewer-stage", "data-testid": "viewer-stage" });
      if (column && column.url) {
        stage.append(el("img", { src: column.url, alt: column.label, draggable: "false" }));
        this.decorate(stage);
      } else if (column) {
        const text = column.state === "failed" ? `Failed: ${column.error || "no reason"}` : column.state === "running" ? "Rendering…" : "Queued…";
        stage.append(
          el("div", { className: `viewer-wait state-${column.state}` }, column.state === "failed" ? null : el("span", { className: "spinner" }), text),
        );
      }
      return stage;
    }

    renderSide() {
      const grid = el("div", { className: "viewer-side" });
      const count = this.columns.length;
      grid.style.setProperty("--cols", String(count <= 4 ? count : Math.ceil(count / 2)));
      for (const column of this.columns) {
        const pane = this.makePane();
        const stage = this.makeStage(column);
        pane.append(stage);
        this.panes.push({ pane, stages: [stage] });
        const caption = el(
          "figcaption",
          {},
          el("strong", { text: column.label }),
          column.sub ? el("span", { className: "muted", text: ` ${column.sub}` }) : null,
        );
        grid.append(el("figure", { className: "viewer-figure", "data-key": column.key, "data-testid": "viewer-figure" }, pane, caption));
      }
      this.stageArea.append(grid);
    }

    renderSlider() {
      const left = this.column(this.pair.left);
      const right = this.column(this.pair.right);
      const pane = this.makePane("viewer-big");
      const under = this.makeStage(right);
      const overClip = el("div", { className: "slider-clip", "data-testid": "slider-clip" });
      const over = this.makeStage(left);
      overClip.append(over);
      const divider = el("div", {
        className: "slider-divider",
        role: "slider",
        tabindex: "0",
        "aria-label": "Before/after divider",
        "aria-valuemin": "0",
        "aria-valuemax": "100",
        "data-testid": "slider-divider",
      });
      divider.append(el("span", { className: "slider-grip", "aria-hidden": "true" }));
      pane.append(
        under,
        overClip,
        divider,
        el("span", { className: "slider-tag tag-left", text: `◀ ${left ? left.label : ""}` }),
        el("span", { className: "slider-tag tag-right", text: `${right ? right.label : ""} ▶` }),
      );
      this.slider = { clip: overClip, divider };
      this.applySplit();
      divider.addEventListener("pointerdown", (event) => {
        event.stopPropagation();
        divider.setPointerCapture(event.pointerId);
        const move = (e) => {
          const box = pane.getBoundingClientRect();
          this.split = Math.min(1, Math.max(0, (e.clientX - box.left) / box.width));
          this.applySplit();
        };
        const up = () => {
          divider.removeEventListener("pointermove", move);
          divider.removeEventListener("pointerup", up);
          this.emitState();
        };
        divider.addEventListener("pointermove", move);
        divider.addEventListener("pointerup", up);
      });
      divider.addEventListener("keydown", (event) => {
        const delta = { ArrowLeft: -0.05, ArrowRight: 0.05 }[event.key];
        if (delta === undefined) return;
        event.preventDefault();
        event.stopPropagation();
        this.split = Math.min(1, Math.max(0, this.split + delta));
        this.applySplit();
        this.emitState();
      });
      this.panes.push({ pane, stages: [under, over] });
      this.stageArea.append(pane);
    }

    applySplit() {
      if (!this.slider) return;
      const percent = (this.split * 100).toFixed(1);
      this.slider.clip.style.clipPath = `inset(0 ${(100 - percent).toFixed(1)}% 0 0)`;
      this.slider.divider.style.left = `${percent}%`;
      this.slider.divider.setAttribute("aria-valuenow", String(Math.round(percent)));
    }

    renderDiff() {
      const a = this.column(this.pair.a);
      const b = this.column(this.pair.b);
      const pane = this.makePane("viewer-big");
      const stage = el("div", { className: "viewer-stage", "data-testid": "viewer-stage" });
      const canvas = el("canvas", { className: "diff-canvas", "data-testid": "diff-canvas" });
      stage.append(canvas);
      this.decorate(stage);
      pane.append(stage);
      this.panes.push({ pane, stages: [stage] });
      this.stageArea.append(pane, this.diffScale());
      if (!a || !b || !a.url || !b.url) {
        this.note.textContent = "Pick two columns that have finished rendering.";
        return;
      }
      if (a.key === b.key) {
        this.note.textContent = "Pick two different columns.";
        return;
      }
      this.note.textContent = "Computing the difference…";
      const token = ++this.diffToken;
      Promise.all([loadImage(a.url), loadImage(b.url)])
        .then(([imageA, imageB]) => {
          if (token !== this.diffToken) return;
          const stats = drawDifference(canvas, imageA, imageB, a.key === this.columns[0].key, this.gain);
          canvas.dataset.drawn = "true";
          canvas.dataset.mean = stats.mean.toFixed(3);
          this.note.textContent =
            `|${a.label} − ${b.label}| at ${stats.width}×${stats.height}: mean difference ` +
            `${stats.mean.toFixed(1)} of 255 (${((100 * stats.mean) / 255).toFixed(1)}%), ` +
            `largest ${stats.max}` +
            (this.gain > 1 ? ` · shown ×${this.gain}` : "") +
            ". Dark = same, bright = different.";
        })
        .catch((error) => {
          if (token === this.diffToken) this.note.textContent = `The difference could not be computed: ${error.message}.`;
        });
    }

    // Face crop: for one face, the input's crop (what every version saw, with its landmarks) and
    // each version's output cut with the same crop (what it made), at the network's input size.
    renderCrop() {
      const faces = this.faces;
      const crops = faces ? faces.crops : [];
      if (!crops.length) {
        this.note.textContent =
          !faces || faces.state === "pending"
            ? "The face analysis of this photo is still pending (a worker runs it in the background); the crops appear when it is done."
            : faces.state !== "done"
              ? `The face analysis of this photo ${faces.state}: ${faces.error}. Ask an admin to re-run it.`
              : "No face was found in this photo: the versions left it as it was. Use Side by side.";
        return;
      }
      this.faceIndex = Math.min(this.faceIndex, crops.length - 1);
      const face = crops[this.faceIndex];
      const size = faces.crop_size;
      const grid = el("div", { className: "viewer-side viewer-crops", "data-testid": "face-crops", "data-face": String(this.faceIndex) });
      const count = this.columns.length;
      grid.style.setProperty("--cols", String(count <= 4 ? count : Math.ceil(count / 2)));
      this.columns.forEach((column, i) => {
        const isInput = i === 0;
        const url = isInput ? face.input_url : column.url ? face.output_urls[column.key] : null;
        const pane = this.makePane("", 1);
        const stage = this.makeStage({ ...column, url: null });
        if (url) {
          stage.replaceChildren(
            el("img", { src: url, alt: `${column.label}, face ${this.faceIndex + 1}`, draggable: "false", "data-testid": "crop-image", "data-key": column.key }),
          );
          if (isInput || this.overlays.faces) {
            const svg = window.GanFaces.overlay(size, size);
            svg.dataset.testid = "crop-landmarks";
            window.GanFaces.draw(svg, { faces: [{ landmarks: face.landmarks }] }, size, size, size / 220);
            stage.append(svg);
          }
        }
        pane.append(stage);
        this.panes.push({ pane, stages: [stage] });
        const caption = el(
          "figcaption",
          {},
          el("strong", { text: isInput ? "Input crop" : column.label }),
          el("span", { className: "muted", text: isInput ? ` what the versions saw · ${size}×${size}` : ` what it made · ${size}×${size}` }),
        );
        grid.append(el("figure", { className: "viewer-figure", "data-key": column.key, "data-testid": "crop-figure" }, pane, caption));
      });
      this.stageArea.append(grid);
      this.note.textContent =
        `Face ${this.faceIndex + 1} of ${crops.length}, cut as the renderer cut it, at the network's input size (${size}×${size}). ` +
        "The landmarks of the face analysis are drawn on the input crop.";
    }

    // The colour bar with its scale: the mean absolute difference of R, G and B (0–255) that each
    // colour stands for; with a gain, the bar's top is reached at 255 / gain.
    diffScale() {
      const ticks = SCALE_TICKS.map((level, i) => {
        const value = Math.round(level / this.gain);
        const last = i === SCALE_TICKS.length - 1 && this.gain > 1;
        return el("span", { text: last ? `≥${value}` : String(value) });
      });
      return el(
        "div",
        { className: "diff-scale", "data-testid": "diff-scale" },
        el("span", { className: "diff-scale-title", text: "|difference| per pixel, of 255" }),
        el("div", { className: "diff-scale-bar", "aria-hidden": "true" }),
        el("div", { className: "diff-scale-ticks", "data-testid": "diff-scale-ticks" }, ...ticks),
      );
    }

    // ---- zoom and pan, one state for every pane ------------------------------------------------
    clampView() {
      const v = this.view;
      v.s = Math.min(MAX_SCALE, Math.max(MIN_SCALE, v.s));
      v.fx = Math.min(0, Math.max(1 - v.s, v.fx));
      v.fy = Math.min(0, Math.max(1 - v.s, v.fy));
    }

    applyView() {
      this.clampView();
      const { s, fx, fy } = this.view;
      for (const { pane, stages } of this.panes) {
        const w = pane.clientWidth;
        const h = pane.clientHeight;
        const transform = `translate(${(fx * w).toFixed(2)}px, ${(fy * h).toFixed(2)}px) scale(${s.toFixed(4)})`;
        for (const stage of stages) stage.style.transform = transform;
        pane.classList.toggle("pixelated", s >= 3);
      }
      this.zoomLabel.textContent = `${Math.round(s * 100)}%`;
      this.root.dataset.zoom = s.toFixed(4);
    }

    zoomAt(pane, clientX, clientY, factor) {
      const box = pane.getBoundingClientRect();
      const px = (clientX - box.left) / box.width;
      const py = (clientY - box.top) / box.height;
      const v = this.view;
      const next = Math.min(MAX_SCALE, Math.max(MIN_SCALE, v.s * factor));
      // Keep the point under the cursor where it is: p = f + s·u  ⇒  f' = p − (p − f)·s'/s.
      v.fx = px - (px - v.fx) * (next / v.s);
      v.fy = py - (py - v.fy) * (next / v.s);
      v.s = next;
      this.applyView();
      this.emitStateSoon();
    }

    zoomCentre(factor) {
      const first = this.panes[0];
      if (!first) return;
      const box = first.pane.getBoundingClientRect();
      this.zoomAt(first.pane, box.left + box.width / 2, box.top + box.height / 2, factor);
    }

    panBy(dxFraction, dyFraction) {
      this.view.fx += dxFraction;
      this.view.fy += dyFraction;
      this.applyView();
      this.emitStateSoon();
    }

    reset() {
      this.view = { s: 1, fx: 0, fy: 0 };
      this.applyView();
      this.emitState();
    }

    attachGestures(pane) {
      pane.addEventListener(
        "wheel",
        (event) => {
          event.preventDefault();
          const delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
          this.zoomAt(pane, event.clientX, event.clientY, Math.exp(-delta * 0.0015));
        },
        { passive: false },
      );
      pane.addEventListener("pointerdown", (event) => {
        if (event.button !== 0) return;
        pane.setPointerCapture(event.pointerId);
        pane.classList.add("dragging");
        let lastX = event.clientX;
        let lastY = event.clientY;
        const move = (e) => {
          const box = pane.getBoundingClientRect();
          this.panBy((e.clientX - lastX) / box.width, (e.clientY - lastY) / box.height);
          lastX = e.clientX;
          lastY = e.clientY;
        };
        const up = () => {
          pane.classList.remove("dragging");
          pane.removeEventListener("pointermove", move);
          pane.removeEventListener("pointerup", up);
          pane.removeEventListener("pointercancel", up);
        };
        pane.addEventListener("pointermove", move);
        pane.addEventListener("pointerup", up);
        pane.addEventListener("pointercancel", up);
      });
      pane.addEventListener("dblclick", () => this.reset());
    }

    onKey(event) {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target;
      const typing = target && (target.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName));
      if (event.key === "Escape") {
        if (typing) target.blur();
        else if (this.options.onClose) this.options.onClose();
        return;
      }
      if (typing || !this.root.isConnected || this.root.hidden) return;
      const zoomed = this.view.s > 1.0001;
      const pan = 0.1;
      const actions = {
        "+": () => this.zoomCentre(STEP),
        "=": () => this.zoomCentre(STEP),
        "-": () => this.zoomCentre(1 / STEP),
        _: () => this.zoomCentre(1 / STEP),
        0: () => this.reset(),
        j: () => this.options.onNext && this.options.onNext(),
        k: () => this.options.onPrevious && this.options.onPrevious(),
        ArrowUp: () => zoomed && this.panBy(0, pan),
        ArrowDown: () => zoomed && this.panBy(0, -pan),
        ArrowLeft: () => (zoomed ? this.panBy(pan, 0) : this.options.onPrevious && this.options.onPrevious()),
        ArrowRight: () => (zoomed ? this.panBy(-pan, 0) : this.options.onNext && this.options.onNext()),
      };
      const action = actions[event.key];
      if (!action) return;
      event.preventDefault();
      action();
    }

    // ---- state, for links that reopen the same view ---------------------------------------------
    state() {
      const v = this.view;
      const state = { mode: this.mode };
      if (v.s > 1.0001) Object.assign(state, { zoom: v.s.toFixed(3), px: v.fx.toFixed(4), py: v.fy.toFixed(4) });
      if (this.mode === "slider") Object.assign(state, { left: this.pair.left, right: this.pair.right, split: this.split.toFixed(3) });
      if (this.mode === "diff") Object.assign(state, { a: this.pair.a, b: this.pair.b, gain: String(this.gain) });
      if (this.mode === "crop" && this.faceIndex) state.face = String(this.faceIndex);
      // An extra mode (e.g. "Why") keeps its own state in the link too.
      const extra = this.extraModes.find((m) => m.mode === this.mode);
      if (extra && extra.state) Object.assign(state, extra.state());
      return state;
    }

    emitState() {
      clearTimeout(this.stateTimer);
      if (this.options.onState) this.options.onState(this.state());
    }

    emitStateSoon() {
      clearTimeout(this.stateTimer);
      this.stateTimer = setTimeout(() => this.emitState(), 250);
    }
  }

  // Draw |a − b| per pixel through the colour ramp at the render's size; return the statistics.
  function drawDifference(canvas, imageA, imageB, aIsInput, gain) {
    const sized = aIsInput ? imageB : imageA; // the input may be larger: compare at render size
    const width = sized.naturalWidth;
    const height = sized.naturalHeight;
    const pixels = (image) => {
      const scratch = document.createElement("canvas");
      scratch.width = width;
      scratch.height = height;
      const context = scratch.getContext("2d", { willReadFrequently: true });
      context.imageSmoothingQuality = "high";
      context.drawImage(image, 0, 0, width, height);
      return context.getImageData(0, 0, width, height).data;
    };
    const pa = pixels(imageA);
    const pb = pixels(imageB);
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext("2d");
    const out = context.createImageData(width, height);
    let sum = 0;
    let max = 0;
    for (let i = 0; i < pa.length; i += 4) {
      const d = (Math.abs(pa[i] - pb[i]) + Math.abs(pa[i + 1] - pb[i + 1]) + Math.abs(pa[i + 2] - pb[i + 2])) / 3;
      sum += d;
      if (d > max) max = d;
      const level = Math.min(255, Math.round(d * gain)) * 3;
      out.data[i] = RAMP[level];
      out.data[i + 1] = RAMP[level + 1];
      out.data[i + 2] = RAMP[level + 2];
      out.data[i + 3] = 255;
    }
    context.putImageData(out, 0, 0);
    return { mean: sum / (width * height), max: Math.round(max), width, height };
  }

  window.GanViewer = GanViewer;
})();
