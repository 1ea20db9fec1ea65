// Small, page-wide behaviour: "Go back" links, and the server's message when an htmx request fails.
document.addEventListener("click", (event) => {
  const back = event.target.closest("[data-go-back]");
  if (back && window.history.length > 1) {
    event.preventDefault();
    window.history.back();
  }
});

document.addEventListener("htmx:responseError", (event) => {
  const xhr = event.detail.xhr;
  let message = `Request failed (${xhr.status}).`;
  try {
    message = JSON.parse(xhr.responseText).detail || message;
  } catch {
    const doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
    const found = doc.querySelector("[data-testid=error-message]");
    if (found) message = found.textContent;
  }
  let toast = document.getElementById("toast");
  if (!toast) {
    toast = document.createElement("div");
    toast.id = "toast";
    document.body.appendChild(toast);
  }
  const item = document.createElement("div");
  item.className = "flash flash-error";
  item.setAttribute("role", "alert");
  item.textContent = message;
  toast.appendChild(item);
  setTimeout(() => item.remove(), 8000);
});
