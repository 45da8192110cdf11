// Copy buttons: <button data-copy="ID" hidden> copies the text of the element with that id.
// The buttons stay hidden without JavaScript; the code can still be selected by hand.
(function () {
  "use strict";
  const status = document.getElementById("copy-status");

  function announce(button, text) {
    button.textContent = text;
    if (status) status.textContent = text;
    setTimeout(function () { button.textContent = "Copy"; }, 2000);
  }

  function selectText(element) {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      if (!navigator.clipboard) {
        selectText(source);
        announce(button, "Selected: press Ctrl+C");
        return;
      }
      navigator.clipboard.writeText(source.textContent).then(
        function () { announce(button, "Copied"); },
        function () { selectText(source); announce(button, "Selected: press Ctrl+C"); }
      );
    });
  });
})();
