// The comparison viewer's "Why" mode: for the row's sample, each version's attention map
// (Grad-CAM; input-gradient saliency for TorchScript versions) over what the network saw, side
// by side, each with one number — the share of the map inside the region ("42% on the eyes").
// A region picker (eyes, face, whole image, or a box drawn on the photo), a layer picker per
// version, and a "Features" toggle (the strongest channels of the layer, side by side). Each
// version's map is an analysis (POST /api/v1/analyses), polled until the worker is done;
// results are cached by content on the server, so asking again is free: with `why: true` the
// server returns the earlier Why analysis of the same items (no new record, no feed entry), and
// a photo whose face analysis found no face is skipped at once (nothing is queued).
// On a face filter each version sees only a face crop: "Whole image" is the whole crop, the
// drawing surface outlines the crops (a box must lie inside one), and a photo with several faces
// has a face picker (shared with the viewer's Face crop mode; 0 is the largest).
// The region, box, face, layers and the Features toggle are kept in the page's URL.
// `window.GanWhy.mode(data, state)` gives the viewer an extra mode ({mode, label, render(area,
// viewer), state()}); `state` is the URL's query (region, box, features, layer, face).
(() => {
  const POLL_MS = 1000;
  const NO_FACE = "no_face"; // an item's reason: the photo has no face to crop or explain
  const REGION_KINDS = ["eyes", "face", "image", "box"];

  const regionsFor = (faceFilter) => [
    ["eyes", "Eyes"],
    ["face", "Face"],
    ["image", faceFilter ? "The whole crop" : "Whole image"],
    ["box", "Draw a box"],
  ];
  const wordsFor = (faceFilter) => ({
    eyes: "the eyes",
    face: "the face",
    image: faceFilter ? "the whole crop" : "the whole image",
    box: "the box",
  });

  const el = window.GanStudio.el;

  const api = async (url, options = {}) => {
    const response = await fetch(url, {
      credentials: "same-origin",
      ...options,
      headers: { Accept: "application/json", ...(options.body ? { "Content-Type": "application/json", "X-CSRF-Token": window.GanStudio.csrfToken() } : {}) },
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = typeof body.detail === "string" ? body.detail : `the server answered ${response.status}`;
      throw new Error(detail);
    }
    return body;
  };

  // The URL's state: region=box&box=x,y,w,h&features=1&layer=<version id>:<name>,…
  const parseState = (state, versions) => {
    const region = REGION_KINDS.includes(state.region) ? state.region : "eyes";
    const numbers = String(state.box || "").split(",").map(Number);
    const box = numbers.length === 4 && numbers.every(Number.isFinite) && numbers[2] > 0 && numbers[3] > 0 ? numbers : null;
    const chosen = {};
    const ids = new Set(versions.map((v) => String(v.id)));
    for (const part of String(state.layer || "").split(",")) {
      const at = part.indexOf(":");
      if (at > 0 && ids.has(part.slice(0, at)) && part.slice(at + 1)) chosen[part.slice(0, at)] = part.slice(at + 1);
    }
    return { region: region === "box" && !box ? "box" : region, box, features: state.features === "1", chosen };
  };

  class Why {
    constructor(data, state = {}) {
      this.data = data; // {filter, pipeline, sample: {id, width, height, url}, versions: [{id, label}]}
      this.faceFilter = data.pipeline === "face";
      this.words = wordsFor(this.faceFilter);
      const parsed = parseState(state, data.versions);
      this.region = parsed.region;
      this.box = parsed.box; // [x, y, w, h] in photo pixels
      this.features = parsed.features;
      this.layers = {}; // version id -> [{name, default, method, note, ...}] (the API's list)
      this.chosen = parsed.chosen; // version id -> layer name (absent: its default)
      this.results = new Map(); // request key -> {state, item, error}
      this.area = null;
      this.viewer = null;
    }

    // The viewer's faces: {state, count, crop_size, crops: [{index, corners, …}]} or null.
    get faces() {
      return this.viewer ? this.viewer.faces : null;
    }

    // How many faces one can pick from: a face filter's crops, else the faces when the region is
    // a face's ("face"; "eyes" covers every face's eyes on a whole-image filter).
    faceCount() {
      const faces = this.faces;
      if (!faces) return 0;
      if (this.faceFilter) return faces.crops ? faces.crops.length : 0;
      return this.region === "face" && faces.state === "done" ? faces.count : 0;
    }

    get face() {
      const count = this.faceCount();
      const index = this.viewer ? this.viewer.faceIndex : 0;
      return count > 1 ? Math.min(index, count - 1) : 0;
    }

    regionValue() {
      return this.region === "box" ? { box: this.box } : this.region;
    }

    key(kind, version) {
      const region = kind === "features" ? "-" : JSON.stringify(this.regionValue());
      return `${kind}|${region}|${version.id}|${this.chosen[version.id] || ""}|${this.face}`;
    }

    state() {
      const state = { region: this.region };
      if (this.region === "box" && this.box) state.box = this.box.join(",");
      if (this.features) state.features = "1";
      const layers = Object.entries(this.chosen).filter(([, name]) => name).map(([id, name]) => `${id}:${name}`);
      if (layers.length) state.layer = layers.join(",");
      if (this.face) state.face = String(this.face);
      return state;
    }

    changed() {
      if (this.viewer) this.viewer.emitState();
      this.rerender();
    }

    // ---- drawing ----------------------------------------------------------------------------
    render(area, viewer) {
      this.area = area;
      if (viewer) this.viewer = viewer;
      area.replaceChildren();
      const root = el("div", { className: "why", "data-testid": "why" });
      root.append(this.controls());
      const about = this.faceNote();
      if (about) root.append(about);
      if (this.region === "box") root.append(this.drawSurface());
      const ready = this.region !== "box" || this.box;
      if (!ready) {
        root.append(
          el("p", {
            className: "why-help",
            "data-testid": "why-draw-help",
            text: this.faceFilter
              ? "Drag on the photo to draw a box inside the face crop (outlined): the versions only see that crop, so the maps explain the box's pixels of it."
              : "Drag on the photo to draw the box whose pixels of the output the maps explain.",
          }),
        );
      } else {
        const faceless = this.faceless();
        if (faceless) root.append(faceless);
        else {
          root.append(this.grid("gradcam"));
          if (this.features) {
            root.append(el("h3", { className: "why-title", text: "Strongest channels" }), this.grid("features"));
          }
        }
      }
      area.append(root);
      this.loadLayers();
    }

    // "Face 1 of 3 (the largest)": which face the maps explain, when there is a choice or a crop.
    faceNote() {
      const count = this.faceCount();
      const faces = this.faces;
      if (count > 1) {
        return el("p", {
          className: "why-help why-face-note",
          "data-testid": "why-face-note",
          text: `The maps explain face ${this.face + 1} of ${count}${this.face === 0 ? ", the largest" : ""}` +
            (this.faceFilter ? `: each face is converted on its own crop, so pick the face to explain.` : "."),
        });
      }
      if (this.faceFilter && faces && faces.count > 1 && count === 1) {
        return el("p", { className: "why-help why-face-note", "data-testid": "why-face-note", text: `Face 1 of ${faces.count}, the largest: this filter converts only the largest face.` });
      }
      return null;
    }

    // A photo without a face on a face filter (or eyes/face asked of one): one sentence for the
    // sample instead of the same error on every card. Null while any card can still show a map.
    faceless() {
      const requests = this.data.versions.map((version) => this.request("gradcam", version));
      if (this.features) this.data.versions.forEach((version) => this.request("features", version));
      const reasons = requests.map((r) => (r.state === "failed" && r.item ? r.item.reason : null));
      if (!reasons.length || !reasons.every((reason) => reason === NO_FACE)) return null;
      const text = this.faceFilter
        ? "No face was found in this photo. This face filter's versions only ever see face crops, so there is nothing to explain here: the renders leave the photo as it was. Pick another sample."
        : `No face was found in this photo, so ${this.words[this.region]} cannot be explained. Choose “${regionsFor(false)[2][1]}” or draw a box.`;
      return el("p", { className: "why-noface", "data-testid": "why-noface", role: "status", text });
    }

    controls() {
      const bar = el("div", { className: "why-controls", role: "group", "aria-label": "Why" });
      const region = el("select", { "data-testid": "why-region", "aria-label": "Region" });
      for (const [value, label] of regionsFor(this.faceFilter)) {
        const option = el("option", { value, text: label });
        if (value === this.region) option.selected = true;
        region.append(option);
      }
      region.addEventListener("change", () => {
        this.region = region.value;
        this.changed();
      });
      const features = el("input", { type: "checkbox", "data-testid": "why-features-toggle" });
      features.checked = this.features;
      features.addEventListener("change", () => {
        this.features = features.checked;
        this.changed();
      });
      bar.append(el("label", { className: "pick" }, "Explain the output's ", region));
      const count = this.faceCount();
      if (count > 1) {
        const face = el("select", { "data-testid": "why-face", "aria-label": "Face" });
        for (let i = 0; i < count; i++) {
          const option = el("option", { value: String(i), text: `Face ${i + 1} of ${count}${i === 0 ? " (largest)" : ""}` });
          if (i === this.face) option.selected = true;
          face.append(option);
        }
        face.addEventListener("change", () => {
          this.viewer.faceIndex = Number(face.value); // shared with the Face crop mode
          this.changed();
        });
        bar.append(el("label", { className: "pick" }, "Face ", face));
      }
      bar.append(
        el("label", { className: "pick" }, features, " Features"),
        el("span", { className: "why-help", text: "Each number: the share of the map's mass inside the region (outlined in cyan)." }),
      );
      return bar;
    }

    drawSurface() {
      // The same surface across redraws (maps arriving redraw the mode): a new one would start
      // with an unloaded, zero-size image, and flicker.
      const key = `${this.data.sample.id}|${this.face}`;
      if (this.surface && this.surface.key === key) {
        this.surface.place(this.box);
        return this.surface.node;
      }
      const sample = this.data.sample;
      const image = el("img", { src: sample.url, alt: "Draw a box on the photo", draggable: "false", "data-testid": "why-draw-image" });
      const frame = el("div", { className: "why-draw", "data-testid": "why-draw" }, image);
      const crops = this.faceFilter && this.faces ? this.faces.crops || [] : [];
      if (crops.length) {
        // What the versions see: each face's crop, the chosen one bright, in the photo's pixels.
        const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
        svg.setAttribute("viewBox", `0 0 ${sample.width} ${sample.height}`);
        svg.setAttribute("preserveAspectRatio", "none");
        svg.setAttribute("class", "why-crops");
        svg.setAttribute("aria-hidden", "true");
        svg.dataset.testid = "why-crop-outlines";
        crops.forEach((crop, i) => {
          const outline = document.createElementNS("http://www.w3.org/2000/svg", "polygon");
          outline.setAttribute("points", crop.corners.map(([x, y]) => `${x},${y}`).join(" "));
          outline.setAttribute("class", i === this.face ? "why-crop chosen" : "why-crop");
          outline.setAttribute("vector-effect", "non-scaling-stroke");
          svg.append(outline);
        });
        frame.append(svg);
      }
      const shown = el("div", { className: "why-box", hidden: !this.box });
      frame.append(shown);
      const place = (box) => {
        if (!box || !image.clientWidth) return;
        const scale = image.clientWidth / sample.width;
        shown.hidden = false;
        shown.style.left = `${box[0] * scale}px`;
        shown.style.top = `${box[1] * scale}px`;
        shown.style.width = `${box[2] * scale}px`;
        shown.style.height = `${box[3] * scale}px`;
      };
      // On every layout change of the image, not only its load: the surface may be drawn again
      // (or attached) after the image has loaded. (The outlines follow by CSS: they cover the
      // frame, which hugs the image.)
      new ResizeObserver(() => place(this.box)).observe(image);
      const toPhoto = (event) => {
        const rect = image.getBoundingClientRect();
        const x = Math.min(Math.max(event.clientX - rect.left, 0), rect.width);
        const y = Math.min(Math.max(event.clientY - rect.top, 0), rect.height);
        return [(x * sample.width) / rect.width, (y * sample.height) / rect.height];
      };
      let start = null;
      frame.addEventListener("pointerdown", (event) => {
        event.preventDefault();
        start = toPhoto(event);
        this.drawing = true;
        frame.setPointerCapture(event.pointerId);
      });
      const stopDrawing = () => {
        start = null;
        this.drawing = false;
        if (this.renderLater) this.rerender();
      };
      frame.addEventListener("pointercancel", stopDrawing);
      frame.addEventListener("pointermove", (event) => {
        if (!start) return;
        const [x, y] = toPhoto(event);
        place([Math.min(start[0], x), Math.min(start[1], y), Math.abs(x - start[0]), Math.abs(y - start[1])]);
      });
      frame.addEventListener("pointerup", (event) => {
        if (!start) return;
        const [x, y] = toPhoto(event);
        const box = [Math.min(start[0], x), Math.min(start[1], y), Math.abs(x - start[0]), Math.abs(y - start[1])].map((v) => Math.round(v));
        if (box[2] < 2 || box[3] < 2) {
          stopDrawing(); // a click, not a box
          return;
        }
        start = null;
        this.drawing = false;
        this.box = box;
        this.changed();
      });
      const remember = (node) => {
        this.surface = { key, node, place };
        return node;
      };
      if (!crops.length) return remember(frame);
      const note = el("p", {
        className: "why-help",
        "data-testid": "why-crop-help",
        text:
          crops.length > 1
            ? `Draw inside the face crop: the versions only see the outlined crops (face ${this.face + 1}'s is bright), and a box outside face ${this.face + 1}'s crop has nothing to explain.`
            : "Draw inside the face crop: the versions only see the outlined square, and a box outside it has nothing to explain.",
      });
      return remember(el("div", { className: "why-draw-block" }, frame, note));
    }

    grid(kind) {
      const grid = el("div", { className: "why-grid", "data-testid": `why-${kind}` });
      for (const version of this.data.versions) grid.append(this.card(kind, version));
      return grid;
    }

    card(kind, version) {
      const result = this.request(kind, version);
      const card = el("figure", { className: "why-card", "data-testid": "why-card", "data-version": String(version.id), "data-state": result.state });
      const head = el("figcaption", { className: "why-head" }, el("strong", { text: version.label }));
      const stage = el("div", { className: "why-stage" });
      const item = result.item;
      if (result.state === "done" && item) {
        if (kind === "gradcam") {
          const share = item.region_share;
          const words = this.words[this.region];
          head.append(
            el("span", {
              className: "why-share",
              "data-testid": "why-share",
              "data-share": share === null ? "" : String(share),
              text: share === null ? "no map" : `${Math.round(share * 100)}% on ${words}`,
            }),
          );
        }
        if (item.map_url) stage.append(el("img", { src: item.map_url, alt: `${version.label}: ${kind === "gradcam" ? "attention" : "strongest channels"}`, "data-testid": `why-${kind}-image` }));
      } else if (result.state === "failed" && item && item.reason === NO_FACE) {
        card.classList.add("why-card-noface");
        stage.append(el("p", { className: "why-note", "data-testid": "why-card-noface", text: "No face in this photo: skipped." }));
        card.append(head, stage);
        return card;
      } else if (result.state === "failed" || result.state === "error") {
        stage.append(el("p", { className: "why-error", "data-testid": "why-error", text: result.error || (item && item.error) || "The analysis failed." }));
      } else {
        stage.append(el("p", { className: "why-pending", "data-testid": "why-pending", text: result.state === "running" ? "Computing…" : "Queued for the worker…" }));
      }
      card.append(head, stage, this.meta(kind, version, item));
      return card;
    }

    meta(kind, version, item) {
      const meta = el("div", { className: "why-meta" });
      const layers = this.layers[version.id];
      if (layers && layers.length && layers[0].method === "saliency") {
        meta.append(el("p", { className: "why-note", "data-testid": "why-saliency", text: layers[0].note || "TorchScript: its layers cannot be hooked, so this is input-gradient saliency." }));
      } else if (layers && layers.length) {
        const select = el("select", { "aria-label": `Layer of ${version.label}`, "data-testid": "why-layer" });
        for (const layer of layers) {
          const option = el("option", { value: layer.default ? "" : layer.name, text: `${layer.name} (${layer.type}, ${layer.channels} ch, 1/${layer.scale})${layer.default ? " · default" : ""}` });
          const current = this.chosen[version.id] || "";
          if (current === option.value || (layer.default && current === layer.name)) option.selected = true;
          select.append(option);
        }
        select.addEventListener("change", () => {
          if (select.value) this.chosen[version.id] = select.value;
          else delete this.chosen[version.id];
          this.changed();
        });
        meta.append(el("label", {}, "Layer ", select));
      }
      if (item && item.note) meta.append(el("p", { className: "why-note", text: item.note }));
      return meta;
    }

    rerender() {
      // Not while a box is being drawn: a new surface would lose the drag (maps and layer
      // lists arriving meanwhile are drawn when the pointer is released).
      if (this.drawing) {
        this.renderLater = true;
        return;
      }
      this.renderLater = false;
      if (this.area && this.area.isConnected) this.render(this.area);
    }

    // ---- data -------------------------------------------------------------------------------
    async loadLayers() {
      for (const version of this.data.versions) {
        if (this.layers[version.id] !== undefined) continue;
        this.layers[version.id] = null;
        api(`/api/v1/versions/${version.id}/layers`)
          .then((layers) => {
            this.layers[version.id] = layers;
            this.rerender();
          })
          .catch(() => (this.layers[version.id] = []));
      }
    }

    request(kind, version) {
      const key = this.key(kind, version);
      let result = this.results.get(key);
      if (result) return result;
      result = { state: "queued", item: null, error: "" };
      this.results.set(key, result);
      const body = {
        filter: this.data.filter,
        versions: [version.id],
        samples: [this.data.sample.id],
        kind,
        region: kind === "features" ? "image" : this.regionValue(),
        layer: this.chosen[version.id] || null,
        face: this.face,
        why: true, // a look, not a person's analysis: no feed entry, an earlier one is reused
      };
      api("/api/v1/analyses", { method: "POST", body: JSON.stringify(body) })
        .then((created) => this.poll(key, created.id))
        .catch((error) => {
          Object.assign(result, { state: "error", error: error.message });
          this.rerender();
        });
      return result;
    }

    async poll(key, id) {
      const result = this.results.get(key);
      try {
        const analysis = await api(`/api/v1/analyses/${id}`);
        const item = analysis.items[0];
        const changed = !result.item || item.state !== result.item.state;
        Object.assign(result, { state: item.state, item });
        if (changed) this.rerender();
        if (item.state === "queued" || item.state === "running") setTimeout(() => this.poll(key, id), POLL_MS);
      } catch (error) {
        Object.assign(result, { state: "error", error: error.message });
        this.rerender();
      }
    }
  }

  window.GanWhy = {
    mode(data, state = {}) {
      const why = new Why(data, state);
      return { mode: "why", label: "Why", render: (area, viewer) => why.render(area, viewer), state: () => why.state() };
    },
  };
})();
