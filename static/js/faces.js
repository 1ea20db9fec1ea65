// Face overlays, shared by the sample page and the comparison viewer: `GanFaces.draw(svg, faces,
// width, height)` draws boxes (when a face has one), landmark contours and points in SVG, in the
// image's own pixels (the SVG's viewBox), so the drawing scales with the displayed image.
// The sample page: its "Faces" overlay and its "Eye mask" overlay.
(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const CONTOURS = ["left_eye", "right_eye", "mouth"];

  function shape(name, attributes) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
    node.setAttribute("vector-effect", "non-scaling-stroke");
    return node;
  }

  function draw(svg, analysis, width, height, pointRadius = null) {
    const radius = pointRadius ?? Math.max(1, Math.max(width, height) / 250);
    svg.replaceChildren();
    for (const face of analysis.faces) {
      if (face.box) {
        const [x, y, w, h] = face.box;
        svg.append(shape("rect", { x, y, width: w, height: h, class: "face-box" }));
      }
      for (const [name, points] of Object.entries(face.landmarks)) {
        if (CONTOURS.includes(name) && points.length > 2) {
          const list = points.map(([px, py]) => `${px},${py}`).join(" ");
          svg.append(shape("polygon", { points: list, class: `face-contour face-${name}` }));
        }
        for (const [px, py] of points) {
          svg.append(shape("circle", { cx: px, cy: py, r: radius, class: "face-point" }));
        }
      }
    }
    svg.dataset.faces = String(analysis.faces.length);
  }

  // An empty overlay SVG for an image of width×height pixels, stretched over its box.
  function overlay(width, height) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("class", "face-overlay");
    svg.setAttribute("aria-label", "Faces found");
    return svg;
  }

  window.GanFaces = { draw, overlay };

  function setUp(stage) {
    const root = stage.closest("figure");
    const svg = stage.querySelector("[data-face-overlay]");
    const mask = stage.querySelector("[data-mask-overlay]");
    const facesToggle = root.querySelector("[data-toggle-faces]");
    const maskToggle = root.querySelector("[data-toggle-mask]");
    const width = Number(stage.dataset.width);
    const height = Number(stage.dataset.height);
    let loaded = false;

    facesToggle?.addEventListener("change", async () => {
      svg.toggleAttribute("hidden", !facesToggle.checked); // an SVG element has no .hidden
      if (!facesToggle.checked || loaded) return;
      const response = await fetch(stage.dataset.facesUrl, { credentials: "same-origin" });
      if (!response.ok) return;
      draw(svg, await response.json(), width, height);
      loaded = true;
    });
    maskToggle?.addEventListener("change", () => {
      if (mask) mask.hidden = !maskToggle.checked;
    });
  }

  document.querySelectorAll("[data-face-stage]").forEach(setUp);
})();
