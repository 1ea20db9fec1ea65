// Review on the grid: ★ toggles a best pick without reloading; "Comment" opens one shared comment form.
(() => {
  const grid = document.querySelector("[data-compare-grid]");
  if (!grid) return;
  const dialog = document.getElementById("comment-dialog");

  // A posted comment brings the page back at it (#comment-N): say so there, not at the top.
  const landed = window.location.hash.startsWith("#comment-") && document.getElementById(window.location.hash.slice(1));
  const notice = document.querySelector("main > .flash-success");
  if (landed && notice) {
    notice.dataset.testid = "comment-notice";
    landed.append(notice);
    landed.scrollIntoView({ block: "center" });
  }

  const label = (versionId) => {
    const head = grid.querySelector(`th[data-col="${versionId}"] .col-label`);
    return head ? head.textContent.trim() : `version ${versionId}`;
  };

  grid.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-comment-on]");
    if (opener && dialog) {
      const [sampleId, versionId] = opener.dataset.commentOn.split(",");
      const form = dialog.querySelector("form");
      form.elements.sample_id.value = sampleId;
      form.elements.version_id.value = versionId || "";
      const row = grid.querySelector(`tr[data-sample="${sampleId}"] [data-testid=row-name]`);
      const where = row ? row.textContent.trim() : `sample ${sampleId}`;
      dialog.querySelector("[data-comment-place]").textContent =
        versionId ? `On ${where} × ${label(versionId)}` : `On the row ${where}`;
      dialog.showModal();
      form.elements.body.focus();
      return;
    }
    if (event.target.closest("[data-close-dialog]")) dialog.close();
  });

  grid.addEventListener("submit", async (event) => {
    const form = event.target.closest("[data-pick-form]");
    if (!form) return;
    event.preventDefault();
    const button = form.querySelector("[data-testid=pick]");
    button.disabled = true;
    const response = await fetch(form.action, {
      method: "POST", body: new FormData(form), headers: { Accept: "application/json" },
    });
    button.disabled = false;
    if (!response.ok) {
      form.submit(); // let the server's error page explain
      return;
    }
    const picks = await response.json();
    const row = form.closest("tr");
    row.querySelectorAll("[data-pick-form]").forEach((other) => {
      const versionId = new URL(other.action).searchParams.get("version_id");
      const mine = picks.mine.includes(Number(versionId));
      const count = picks.row[versionId] || 0;
      const star = other.querySelector("[data-testid=pick]");
      star.classList.toggle("picked", mine);
      star.setAttribute("aria-pressed", String(mine));
      star.textContent = count ? `★ ${count}` : "★";
    });
    // As the page renders them: nothing before the first pick, the leading version(s) marked.
    grid.querySelectorAll("[data-preferred-for]").forEach((span) => {
      const n = picks.preferred[span.dataset.preferredFor] || 0;
      span.textContent = picks.rows_with_picks ? `★ preferred in ${n} of ${picks.rows_with_picks}` : "";
      span.classList.toggle("leading", picks.leading.includes(Number(span.dataset.preferredFor)));
    });
  });
})();
