// The blind arena: fetch a pair, vote with buttons or keys, reveal the names, and fetch the next
// pair only when the voter asks (the Next button, or N / Enter / Space): the reveal is the
// voter's reward and a check on their eye, so it stays until they have read it.
(() => {
  const root = document.querySelector("[data-testid=arena]");
  if (!root) return;
  const csrf = window.GanStudio.csrfToken();
  const status = root.querySelector(".arena-status");
  const pairBox = root.querySelector(".arena-pair");
  const left = root.querySelector("img[data-side=left]");
  const right = root.querySelector("img[data-side=right]");
  const input = root.querySelector("[data-testid=arena-input]");
  const counter = root.querySelector("[data-testid=arena-count]");
  const counterNoun = root.querySelector("[data-testid=arena-count-noun]");
  const buttons = root.querySelectorAll("button[data-outcome]");
  const next = root.querySelector("[data-testid=arena-next]");
  const buttonBox = root.querySelector(".arena-buttons");
  const inputBox = root.querySelector(".arena-input");
  let pairId = null;
  let busy = false;
  let revealed = false;
  let votes = 0;

  const setBusy = (value) => {
    busy = value;
    buttons.forEach((b) => { b.disabled = value || !pairId; });
  };

  async function loadNext() {
    revealed = false;
    next.hidden = true;
    setBusy(true);
    root.querySelectorAll("[data-reveal]").forEach((el) => { el.textContent = ""; });
    const response = await fetch(root.dataset.next, { headers: { Accept: "application/json" } });
    const body = await response.json();
    if (!response.ok) {
      status.textContent = body.detail || `Could not load a pair (${response.status}).`;
      return;
    }
    pairId = body.pair_id;
    if (!pairId) {
      // Nothing left to vote on: the message says why; no empty frames or dead buttons.
      pairBox.hidden = true;
      buttonBox.hidden = true;
      inputBox.hidden = true;
      status.textContent = body.message;
      setBusy(false);
      return;
    }
    left.src = body.left.render_url;
    right.src = body.right.render_url;
    input.src = body.input_url;
    pairBox.hidden = false;
    buttonBox.hidden = false;
    inputBox.hidden = false;
    status.textContent = "Which is better?";
    setBusy(false);
  }

  async function vote(outcome) {
    if (busy || !pairId) return;
    setBusy(true);
    const response = await fetch("/api/v1/arena/votes", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ pair_id: pairId, outcome }),
    });
    const body = await response.json();
    if (!response.ok) {
      status.textContent = body.detail || `The vote failed (${response.status}).`;
      if (response.status === 409) {
        // This pair cannot take a vote (already judged, or nothing to choose between its sides):
        // offer the next pair, as the message says, instead of buttons that would be refused again.
        pairId = null;
        setBusy(false);
        revealed = true;
        next.hidden = false;
        next.focus();
        return;
      }
      setBusy(false);
      return;
    }
    votes += 1;
    counter.textContent = String(votes);
    counterNoun.textContent = window.GanStudio.noun(votes, "vote");
    root.querySelector("[data-reveal=left]").textContent = `${body.left.label} (${body.left.branch})`;
    root.querySelector("[data-reveal=right]").textContent = `${body.right.label} (${body.right.branch})`;
    status.textContent = `Voted ${outcome.replace("_", " ")}. Press N for the next pair.`;
    revealed = true;
    next.hidden = false;
    next.focus();
  }

  buttons.forEach((b) => b.addEventListener("click", () => vote(b.dataset.outcome)));
  next.addEventListener("click", () => { if (revealed) loadNext(); });
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select, summary")) return;
    if (revealed) {
      if (["n", "N", "Enter", " "].includes(event.key)) {
        event.preventDefault();  // Enter or Space on the focused Next button would click it too
        loadNext();
      }
      return;
    }
    const key = { ArrowLeft: "left", ArrowRight: "right", ArrowDown: "tie", t: "tie", b: "both_bad" }[event.key];
    if (key) {
      event.preventDefault();
      vote(key);
    }
  });
  loadNext();
})();
