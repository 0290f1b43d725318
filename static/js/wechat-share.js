/* The WeChat share card (ballots/templatetags/wechat_share.py): inside WeChat's
 * browser, load WeChat's JS-SDK (or its backup host), call wx.config with the
 * server's signature and set the card for "send to chat" and "share to Moments".
 * Anywhere else, or if the SDK fails, nothing happens and the page is unchanged. */
(function () {
  "use strict";
  var element = document.getElementById("wechat-share-card");
  if (!element || !/MicroMessenger/i.test(navigator.userAgent)) {
    return;
  }
  var card;
  try {
    card = JSON.parse(element.textContent);
  } catch (error) {
    return;
  }
  // Signed for another URL (e.g. opened on another host): WeChat would refuse it.
  if (card.url !== window.location.href.split("#")[0]) {
    return;
  }

  function configure() {
    var wx = window.wx;
    if (!wx || typeof wx.config !== "function") {
      return;
    }
    wx.config({
      debug: false,
      appId: card.appId,
      timestamp: card.timestamp,
      nonceStr: card.nonceStr,
      signature: card.signature,
      jsApiList: card.jsApiList
    });
    wx.ready(function () {
      wx.updateAppMessageShareData({
        title: card.title, desc: card.desc, link: card.link, imgUrl: card.imgUrl
      });
      wx.updateTimelineShareData({title: card.title, link: card.link, imgUrl: card.imgUrl});
    });
    wx.error(function () {
      // A refused signature only loses the custom card; WeChat's default card stays.
    });
  }

  function load(index) {
    if (index >= card.sdk.length) {
      return;
    }
    var script = document.createElement("script");
    script.src = card.sdk[index];
    script.async = true;
    script.onload = configure;
    script.onerror = function () { load(index + 1); };
    document.head.appendChild(script);
  }

  if (window.wx) {
    configure();
  } else {
    load(0);
  }
})();
