// crossmatch review UI: media reveal (all or by region), note drafts, help, keyboard shortcuts.
// No dependencies, nothing fetched from elsewhere.
(function () {
  "use strict";
  var SHORTCUTS = "crossmatch-shortcuts";  // "off" turns single-key shortcuts off (WCAG 2.1.4)

  function store() { try { return window.localStorage; } catch (e) { return null; } }
  function shortcutsOn() { var s = store(); return !s || s.getItem(SHORTCUTS) !== "off"; }

  function setRevealed(img, button, revealed) {
    // The clear image is only requested from the server on reveal (and the server audits it).
    img.src = revealed ? img.dataset.clearSrc : img.dataset.blurSrc;
    img.classList.toggle("blurred", !revealed);
    button.setAttribute("aria-pressed", revealed ? "true" : "false");
    button.textContent = revealed ? "Blur" : "Reveal";
  }

  function toggle(button) {
    var img = document.getElementById(button.dataset.target);
    if (img) setRevealed(img, button, button.getAttribute("aria-pressed") !== "true");
  }

  // Reveal by region: holding the pointer on a blurred picture shows a small clear circle under it.
  function regionStart(event) {
    var img = event.target;
    if (!img.classList || !img.classList.contains("blurred") || !img.closest(".by-region")) return;
    var frame = img.parentNode, lens = frame.querySelector("img.lens");
    if (!lens) {
      lens = document.createElement("img");
      lens.className = "lens"; lens.alt = ""; lens.setAttribute("aria-hidden", "true");
      lens.src = img.dataset.clearSrc;
      frame.appendChild(lens);
    }
    event.preventDefault();
    lens.style.display = "block";
    regionMove(event, lens);
    function move(e) { regionMove(e, lens); }
    function stop() { lens.style.display = "none"; document.removeEventListener("pointermove", move); document.removeEventListener("pointerup", stop); }
    document.addEventListener("pointermove", move);
    document.addEventListener("pointerup", stop);
  }

  function regionMove(event, lens) {
    var box = lens.parentNode.getBoundingClientRect();
    var x = event.clientX - box.left, y = event.clientY - box.top;
    lens.style.clipPath = "circle(48px at " + x + "px " + y + "px)";
  }

  // Note drafts survive navigation (j / k, clicking away, an expired session) on this device.
  function draftKey(form) { return "crossmatch-note-" + form.dataset.case; }
  function setupDraft() {
    var s = store(), form = document.getElementById("decide"), note = document.getElementById("note");
    var flash = document.querySelector(".flash");
    var done = flash && /^Case (\d+): \w+ recorded/.exec(flash.textContent);
    if (s && done) s.removeItem("crossmatch-note-" + done[1]);  // the decision (and its note) is stored: drop the draft
    if (!s || !form || !note) return;
    var saved = s.getItem(draftKey(form));
    if (saved && !note.value) { note.value = saved; note.classList.add("restored"); }
    note.addEventListener("input", function () {
      if (note.value) s.setItem(draftKey(form), note.value); else s.removeItem(draftKey(form));
    });
  }

  // Keep focused elements clear of the sticky decision bar.
  function setupBar() {
    var bar = document.getElementById("decide");
    if (!bar) return;
    function size() { document.documentElement.style.setProperty("--bar", bar.offsetHeight + "px"); }
    size();
    window.addEventListener("resize", size);
  }

  function typing(target) {
    var tag = (target && target.tagName) || "";
    return tag === "TEXTAREA" || tag === "INPUT" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function queueKeys(event) {
    var links = Array.prototype.slice.call(document.querySelectorAll("a.case-link"));
    if (event.key === "s") { var start = document.getElementById("start-reviewing"); if (start) { start.click(); return true; } }
    if (!links.length) return false;
    var i = links.indexOf(document.activeElement);
    if (event.key === "j") { links[Math.min(links.length - 1, i + 1)].focus(); return true; }
    if (event.key === "k") { links[Math.max(0, i - 1)].focus(); return true; }
    return false;
  }

  function caseKeys(event) {
    var key = event.key;
    if (key === "n") { var note = document.getElementById("note"); if (note) { note.focus(); return true; } }
    if (key === "s") { var start = document.getElementById("start"); if (start) { start.click(); return true; } }
    if (key === "v") {
      var buttons = document.querySelectorAll("button.reveal");
      var anyHidden = Array.prototype.some.call(buttons, function (b) { return b.getAttribute("aria-pressed") !== "true"; });
      buttons.forEach(function (b) {
        var img = document.getElementById(b.dataset.target);
        if (img) setRevealed(img, b, anyHidden);
      });
      return buttons.length > 0;
    }
    if (key === "j" || key === "k") {
      var link = document.getElementById(key === "j" ? "next-case" : "prev-case");
      if (link) { window.location.href = link.href; return true; }
    }
    var button = document.querySelector('#decide button[data-key="' + key + '"]');
    if (button) { button.click(); return true; }
    return false;
  }

  function openHelp() {
    var dialog = document.getElementById("help");
    if (dialog && !dialog.open && dialog.showModal) { dialog.showModal(); return true; }
    return false;
  }

  document.addEventListener("click", function (event) {
    var t = event.target;
    var button = t.closest && t.closest("button.reveal");
    if (button) { event.preventDefault(); toggle(button); return; }
    if (t.closest && t.closest("button.help-open")) { openHelp(); return; }
    var masked = t.closest && t.closest(".masked");
    if (masked) masked.classList.toggle("unmasked");
  });

  document.addEventListener("pointerdown", regionStart);

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.key === "Enter" && event.target.classList && event.target.classList.contains("masked")) {
      event.target.classList.toggle("unmasked"); event.preventDefault(); return;
    }
    if (!shortcutsOn() || document.querySelector("dialog[open]")) return;
    var page = document.body.dataset.page;
    var handled = event.key === "?" ? openHelp() : page === "queue" ? queueKeys(event) : page === "case" ? caseKeys(event) : false;
    if (handled) event.preventDefault();
  });

  // Sizes from data attributes, set through the CSSOM: the Content-Security-Policy allows no inline styles.
  function setupSizes() {
    document.querySelectorAll(".timeline .hit").forEach(function (hit) {
      hit.style.left = hit.dataset.left + "%"; hit.style.width = hit.dataset.width + "%";
    });
    document.querySelectorAll("figure.preview[data-blur]").forEach(function (fig) {
      fig.style.setProperty("--blur", fig.dataset.blur + "px");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupSizes();
    setupDraft();
    setupBar();
    var box = document.getElementById("shortcuts-on"), s = store();
    if (box) {
      box.checked = shortcutsOn();
      box.addEventListener("change", function () { if (s) { if (box.checked) s.removeItem(SHORTCUTS); else s.setItem(SHORTCUTS, "off"); } });
    }
  });
})();
