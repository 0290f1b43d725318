/* 分享 buttons (templates/cases/_share.html), a progressive enhancement: without
   JavaScript the page shows the link itself. With it the button appears and uses the
   Web Share API where the browser has one, and copies the link to the clipboard
   otherwise (inside WeChat, share through the menu at the top right). */
(function () {
  "use strict";

  function say(button, text) {
    var status = button.parentNode.querySelector(".share-status");
    if (status) { status.textContent = text; }
  }

  function copyBySelection(url) {
    var field = document.createElement("textarea");
    field.value = url;
    field.setAttribute("readonly", "");
    field.className = "share-copy-buffer";
    document.body.appendChild(field);
    field.select();
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (error) { copied = false; }
    document.body.removeChild(field);
    return copied;
  }

  function copy(button, url) {
    var done = function () { say(button, "链接已复制，可以粘贴到微信群或朋友圈。"); };
    var failed = function () {
      if (copyBySelection(url)) { done(); } else { say(button, "无法自动复制，请长按上面的链接复制。"); }
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(url).then(done, failed);
    } else {
      failed();
    }
  }

  function share(button) {
    var data = {
      title: button.getAttribute("data-share-title") || document.title,
      text: button.getAttribute("data-share-text") || "",
      url: button.getAttribute("data-share-url") || window.location.href
    };
    if (navigator.share && (!navigator.canShare || navigator.canShare(data))) {
      navigator.share(data).then(function () {
        say(button, "已打开分享。");
      }, function (error) {
        if (error && error.name === "AbortError") { return; }  // the person closed the sheet
        copy(button, data.url);
      });
    } else {
      copy(button, data.url);
    }
  }

  var buttons = document.querySelectorAll(".btn-share");
  for (var i = 0; i < buttons.length; i += 1) {
    buttons[i].hidden = false;
    buttons[i].addEventListener("click", function (event) { share(event.currentTarget); });
  }
})();
