// A few progressive enhancements; every page works without this file.
"use strict";
document.documentElement.classList.add("js");

function showMessage(text) {
  const area = document.getElementById("flash");
  if (!area) return;
  const p = document.createElement("p");
  p.className = "flash flash-error";
  p.setAttribute("role", "alert");
  p.textContent = text;
  area.replaceChildren(p);
}

// htmx does not swap error responses: say what happened instead of failing silently.
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  const body = event.detail.xhr.responseText || "";
  if (status === 400 && /CSRF/i.test(body)) {
    showMessage("This page has expired. Reload the page, then try again.");
  } else if (status === 401 || status === 403) {
    showMessage("You are signed out or not allowed to do that. Reload the page to sign in again.");
  } else if (status === 404) {
    showMessage("That is no longer there. Reload the page.");
  } else if (status === 429) {
    showMessage("Too many requests. Wait a moment, then try again.");
  } else if (status >= 500) {
    showMessage("The server could not answer (error " + status + "). Try again in a moment.");
  } else {
    showMessage("The request failed (error " + status + "). Reload the page and try again.");
  }
});
document.addEventListener("htmx:sendError", () => {
  showMessage("The server cannot be reached. Check your connection, then try again.");
});

// A select marked data-autosubmit submits its form when changed (the account switcher).
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-autosubmit]");
  if (select && select.form) select.form.requestSubmit();
});

// Filter menus: close when choosing, clicking elsewhere or pressing Escape.
document.addEventListener("click", (event) => {
  document.querySelectorAll("details.menu[open]").forEach((menu) => {
    if (!menu.contains(event.target) || event.target.closest("a")) menu.removeAttribute("open");
  });
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    document.querySelectorAll("details.menu[open]").forEach((menu) => menu.removeAttribute("open"));
  }
  // "/" jumps to the search box, as in most list tools.
  const typing = event.target.closest("input, textarea, select, [contenteditable]");
  if (event.key === "/" && !typing) {
    const search = document.getElementById("search-input");
    if (search) {
      event.preventDefault();
      search.focus();
    }
  }
});
