// Push a version from the filter page: drag a checkpoint onto the drop zone, watch the upload,
// then the server's check. Without this script the form still posts (no progress bar).
(() => {
  const form = document.querySelector("form.push-form");
  if (!form) return;
  const zone = form.querySelector(".dropzone");
  const input = form.querySelector("input[type=file]");
  const text = zone.querySelector(".dropzone-text");
  const progress = form.querySelector("progress");
  const status = form.querySelector(".push-status");

  // `keep`: the dropped or picked checkpoint stays in the input until the form is sent.
  window.GanStudio.dropZone(zone, input, ([file]) => {
    text.textContent = `${file.name} (${(file.size / 1e6).toFixed(1)} MB)`;
  }, { keep: true });

  const failed = (message) => {
    progress.hidden = true;
    form.querySelector("button[type=submit]").disabled = false;
    status.textContent = message;
    status.classList.add("error-text");
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!input.files.length) {
      status.textContent = "Choose or drop a checkpoint first.";
      return;
    }
    form.querySelector("button[type=submit]").disabled = true;
    progress.hidden = false;
    progress.value = 0;
    status.classList.remove("error-text");
    status.textContent = "Uploading…";
    const data = new FormData(form);
    data.delete("csrf_token");
    try {
      const answer = await window.GanStudio.upload(form.dataset.api, data, {
        onProgress: (share) => (progress.value = 100 * share),
        onUploaded: () => {
          progress.removeAttribute("value"); // indeterminate while the server checks it
          status.textContent = "Uploaded. Checking: loading it, running a probe image, timing it…";
        },
      });
      if (answer.status === 201) {
        status.textContent = `Pushed ${answer.body.label}.`;
        window.location.href = answer.body.url;
        return;
      }
      failed(answer.detail);
    } catch {
      failed("The upload was interrupted; check the connection and push again.");
    }
  });
})();
