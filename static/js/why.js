// The comparison viewer's "Why" mode: for the row's sample, each version's attention map
// (Grad-CAM; input-gradient saliency for TorchScript versions) over what the network saw, side
// by side, each with one number — the share of the map inside the region ("42% on the eyes").
// A region picker (eyes, face, whole image, or a box drawn on the photo), a layer picker per
// version, and a "Features" toggle (the strongest channels of the layer, side by side). Each
// version's map is an analysis (POST /api/v1/analyses), polled until the worker is done;
// results are cached by content on the server, so asking again is free.
// `window.GanWhy.mode(data)` gives the viewer an extra mode ({mode, label, render(area)}).
(() => {
  const REGIONS = [
    ["eyes", "Eyes"],
    ["face", "Face"],
    ["image", "Whole image"],
    ["box", "Draw a box"],
  ];
  const WORDS = { eyes: "the eyes", face: "the face", image: "the whole image", box: "the box" };
  const POLL_MS = 1000;

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

  class Why {
    constructor(data) {
      this.data = data; // {filter, sample: {id, width, height, url}, versions: [{id, label}]}
      this.region = "eyes";
      this.box = null; // [x, y, w, h] in photo pixels
      this.features = false;
      this.layers = {}; // version id -> [{name, default, method, note, ...}] (the API's list)
      this.chosen = {}; // version id -> layer name (null: its default)
      this.results = new Map(); // request key -> {state, item, error}
      this.area = null;
    }

    regionValue() {
      return this.region === "box" ? { box: this.box } : this.region;
    }

    key(kind, version) {
      const region = kind === "features" ? "-" : JSON.stringify(this.regionValue());
      return `${kind}|${region}|${version.id}|${this.chosen[version.id] || ""}`;
    }

    // ---- drawing ----------------------------------------------------------------------------
    render(area) {
      this.area = area;
      area.replaceChildren();
      const root = el("div", { className: "why", "data-testid": "why" });
      root.append(this.controls());
      if (this.region === "box") root.append(this.drawSurface());
      const ready = this.region !== "box" || this.box;
      if (!ready) {
        root.append(el("p", { className: "why-help", text: "Drag on the photo to draw the box whose pixels of the output the maps explain." }));
      } else {
        root.append(this.grid("gradcam"));
        if (this.features) {
          root.append(el("h3", { className: "why-title", text: "Strongest channels" }), this.grid("features"));
        }
      }
      area.append(root);
      this.loadLayers();
    }

    controls() {
      const bar = el("div", { className: "why-controls", role: "group", "aria-label": "Why" });
      const region = el("select", { "data-testid": "why-region", "aria-label": "Region" });
      for (const [value, label] of REGIONS) {
        const option = el("option", { value, text: label });
        if (value === this.region) option.selected = true;
        region.append(option);
      }
      region.addEventListener("change", () => {
        this.region = region.value;
        this.rerender();
      });
      const features = el("input", { type: "checkbox", "data-testid": "why-features-toggle" });
      features.checked = this.features;
      features.addEventListener("change", () => {
        this.features = features.checked;
        this.rerender();
      });
      bar.append(
        el("label", { className: "pick" }, "Explain the output's ", region),
        el("label", { className: "pick" }, features, " Features"),
        el("span", { className: "why-help", text: "Each number: the share of the map's mass inside the region (outlined in cyan)." }),
      );
      return bar;
    }

    drawSurface() {
      const sample = this.data.sample;
      const image = el("img", { src: sample.url, alt: "Draw a box on the photo", draggable: "false", "data-testid": "why-draw-image" });
      const frame = el("div", { className: "why-draw", "data-testid": "why-draw" }, image);
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
      image.addEventListener("load", () => place(this.box));
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
        frame.setPointerCapture(event.pointerId);
      });
      frame.addEventListener("pointermove", (event) => {
        if (!start) return;
        const [x, y] = toPhoto(event);
        place([Math.min(start[0], x), Math.min(start[1], y), Math.abs(x - start[0]), Math.abs(y - start[1])]);
      });
      frame.addEventListener("pointerup", (event) => {
        if (!start) return;
        const [x, y] = toPhoto(event);
        const box = [Math.min(start[0], x), Math.min(start[1], y), Math.abs(x - start[0]), Math.abs(y - start[1])].map((v) => Math.round(v));
        start = null;
        if (box[2] < 2 || box[3] < 2) return; // a click, not a box
        this.box = box;
        this.rerender();
      });
      return frame;
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
          const words = WORDS[this.region];
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
          if ((this.chosen[version.id] || "") === option.value) option.selected = true;
          select.append(option);
        }
        select.addEventListener("change", () => {
          this.chosen[version.id] = select.value || null;
          this.rerender();
        });
        meta.append(el("label", {}, "Layer ", select));
      }
      if (item && item.note) meta.append(el("p", { className: "why-note", text: item.note }));
      return meta;
    }

    rerender() {
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
    mode(data) {
      const why = new Why(data);
      return { mode: "why", label: "Why", render: (area) => why.render(area) };
    },
  };
})();
