// crossmatch review UI: media reveal and keyboard shortcuts. No dependencies, nothing fetched from elsewhere.
(function () {
  "use strict";

  function setRevealed(img, button, revealed) {
    // The clear image is only requested from the server on reveal.
    img.src = revealed ? img.dataset.clearSrc : img.dataset.blurSrc;
    img.classList.toggle("blurred", !revealed);
    button.setAttribute("aria-pressed", revealed ? "true" : "false");
    button.textContent = revealed ? "Blur" : "Reveal";
  }

  function toggle(button) {
    var img = document.getElementById(button.dataset.target);
    if (img) setRevealed(img, button, button.getAttribute("aria-pressed") !== "true");
  }

  function typing(target) {
    var tag = (target && target.tagName) || "";
    return tag === "TEXTAREA" || tag === "INPUT" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function queueKeys(event) {
    var links = Array.prototype.slice.call(document.querySelectorAll("a.case-link"));
    if (!links.length) return false;
    var i = links.indexOf(document.activeElement);
    if (event.key === "j") { links[Math.min(links.length - 1, i + 1)].focus(); return true; }
    if (event.key === "k") { links[Math.max(0, i - 1)].focus(); return true; }
    return false;
  }

  function caseKeys(event) {
    var key = event.key;
    if (key === "n") { var note = document.getElementById("note"); if (note) { note.focus(); return true; } }
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

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button.reveal");
    if (button) { event.preventDefault(); toggle(button); }
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    var page = document.body.dataset.page;
    var handled = page === "queue" ? queueKeys(event) : page === "case" ? caseKeys(event) : false;
    if (handled) event.preventDefault();
  });
})();
