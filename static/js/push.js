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
  const csrf = document.querySelector("meta[name=csrf-token]").content;

  const showFile = () => {
    const file = input.files[0];
    if (file) text.textContent = `${file.name} (${(file.size / 1e6).toFixed(1)} MB)`;
  };
  ["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (event) => {
    event.preventDefault();
    zone.classList.add("dragover");
  }));
  ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, () => zone.classList.remove("dragover")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      showFile();
    }
  });
  input.addEventListener("change", showFile);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!input.files.length) {
      status.textContent = "Choose or drop a checkpoint first.";
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    status.textContent = "Uploading…";
    const request = new XMLHttpRequest();
    request.open("POST", form.dataset.api);
    request.setRequestHeader("X-CSRF-Token", csrf);
    request.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) progress.value = (100 * e.loaded) / e.total;
    });
    request.upload.addEventListener("load", () => {
      progress.removeAttribute("value"); // indeterminate while the server checks it
      status.textContent = "Uploaded. Checking: loading it, running a probe image, timing it…";
    });
    request.addEventListener("load", () => {
      let body = {};
      try { body = JSON.parse(request.responseText); } catch { /* not JSON */ }
      if (request.status === 201) {
        status.textContent = `Pushed ${body.label}.`;
        window.location.href = body.url;
        return;
      }
      progress.hidden = true;
      button.disabled = false;
      status.textContent = body.detail || `The push failed (${request.status}).`;
      status.classList.add("error-text");
    });
    request.addEventListener("error", () => {
      progress.hidden = true;
      button.disabled = false;
      status.textContent = "The upload was interrupted; check the connection and push again.";
    });
    const data = new FormData(form);
    data.delete("csrf_token");
    request.send(data);
  });
})();
