(function () {
  "use strict";
  var L = {
    en: { title: "Duplex chat", send: "Send", online: "Online", connecting: "Connecting…", open: "Connected",
          reconnecting: "Reconnecting…", closed: "Disconnected", placeholder: "Type a message…", nick: "Nickname",
          setNick: "Set", room: "Room", join: "Join", you: "you", nickPh: "Your name", roomPh: "Room name",
          lost: "Connection lost. Reconnecting…", back: "Reconnected", retry: "Click to retry now" },
    zh: { title: "Duplex 聊天室", send: "发送", online: "在线", connecting: "连接中…", open: "已连接",
          reconnecting: "重新连接中…", closed: "已断开", placeholder: "输入消息…", nick: "昵称",
          setNick: "设置", room: "房间", join: "进入", you: "你", nickPh: "你的名字", roomPh: "房间名",
          lost: "连接已断开，正在重连…", back: "已重新连接", retry: "点击立即重试" }
  };
  var lang = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
  var T = /^zh/i.test(lang) ? L.zh : L.en;
  document.documentElement.lang = T === L.zh ? "zh-CN" : "en";

  function $(id) { return document.getElementById(id); }
  var list = $("messages"), input = $("msg"), sendBtn = $("send"), statusEl = $("status"),
      onlineEl = $("online"), nickInput = $("nick"), roomInput = $("room-input"), mainEl = $("main"),
      toggle = $("toggle-side");

  $("send").textContent = T.send;
  input.placeholder = T.placeholder;
  $("online-label").textContent = T.online;
  $("nick-label").textContent = T.nick;
  $("room-label").textContent = T.room;
  $("nick-set").textContent = T.setNick;
  $("room-join").textContent = T.join;
  nickInput.placeholder = T.nickPh;
  roomInput.placeholder = T.roomPh;
  input.setAttribute("aria-label", T.placeholder);
  nickInput.setAttribute("aria-label", T.nick);
  roomInput.setAttribute("aria-label", T.room);

  var params = new URLSearchParams(location.search);
  var room = params.get("room") || "general";
  var wantName = params.get("name") || "";
  var me = null;            // my current name (type 3 `you`, type 5 renames)
  var online = [];
  var seen = new Set();     // message ids shown in this room (history replay after reconnect)
  var ws = null, attempt = 0, retryTimer = null, everOpen = false, lostShown = false, unread = 0;

  var state = window.duplexChat = { received: [], socket: null, closes: [] };

  function setStatus(s) {
    statusEl.dataset.state = s;
    statusEl.textContent = T[s];
    statusEl.title = s === "reconnecting" ? T.retry : "";
    updateSend();
  }
  function updateSend() {
    sendBtn.disabled = !(ws && ws.readyState === 1 && input.value.trim());
  }
  function setRoom(r) {
    room = r;
    $("room-name").textContent = r;
    document.title = r + " · " + T.title;
    if (document.activeElement !== roomInput) roomInput.value = r;
  }
  function syncUrl() {
    var p = new URLSearchParams(location.search);
    p.set("room", room);
    if (wantName) p.set("name", wantName); else p.delete("name");
    history.replaceState(null, "", location.pathname + "?" + p.toString() + location.hash);
  }

  function nearBottom() { return list.scrollHeight - list.scrollTop - list.clientHeight < 80; }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }
  function addLine(cls, m, build) {
    var stick = nearBottom() || / mine/.test(cls);
    var line = el("div", "msg " + cls);
    if (build) build(line); else line.appendChild(el("span", "text", m.msg));
    var t = el("span", "time", m.time || "");
    if (typeof m.ts === "number") t.title = new Date(m.ts).toLocaleString();
    line.appendChild(t);
    list.appendChild(line);
    if (stick) list.scrollTop = list.scrollHeight;
    return line;
  }
  function chatLine(m) {
    if (m.history && m.id != null && seen.has(m.id)) return;
    if (m.id != null) seen.add(m.id);
    var mine = me != null && m.user === me;
    var cls = "msg-chat" + (mine ? " mine" : "") + (m.history ? " history" : "");
    var line = addLine(cls, m, function (line) {
      var span = el("span", "text");
      var msg = String(m.msg == null ? "" : m.msg), u = m.user;
      if (typeof u === "string" && msg.indexOf(u + ": ") === 0) {
        span.appendChild(el("b", "who", u));
        span.appendChild(document.createTextNode(msg.slice(u.length)));
      } else {
        span.textContent = msg;
      }
      line.appendChild(span);
    });
    if (m.id != null) line.dataset.id = m.id;
    if (typeof m.user === "string") line.dataset.user = m.user;
    if (document.hidden && !mine && !m.history) { unread++; document.title = "(" + unread + ") " + room + " · " + T.title; }
  }
  function renderOnline() {
    onlineEl.textContent = "";
    online.forEach(function (n) {
      var li = el("li", n === me ? "me" : "", n);
      if (n === me) li.dataset.you = T.you;
      onlineEl.appendChild(li);
    });
    $("online-count").textContent = online.length ? "· " + online.length : "";
    toggle.textContent = T.online + " · " + online.length;
  }

  function handle(m) {
    switch (m.type) {
      case 0:
        addLine("msg-enter", m);
        if (typeof m.user === "string" && online.indexOf(m.user) < 0) { online.push(m.user); renderOnline(); }
        break;
      case 1:
        addLine("msg-leave", m);
        if (typeof m.user === "string") { online = online.filter(function (n) { return n !== m.user; }); renderOnline(); }
        break;
      case 2: chatLine(m); break;
      case 3:
        if (typeof m.room === "string" && m.room !== room) {
          list.textContent = ""; seen = new Set();
        }
        if (typeof m.room === "string") { setRoom(m.room); syncUrl(); }
        me = typeof m.you === "string" ? m.you : me;
        if (me && document.activeElement !== nickInput) nickInput.value = me;
        if (Array.isArray(m.online)) online = m.online.map(String);
        renderOnline();
        if (lostShown) { list.appendChild(el("div", "divider", T.back)); lostShown = false; }
        addLine("msg-system", m);
        attempt = 0;
        break;
      case 4:
        // Large rooms send only the count; the list is kept from enter/leave events.
        if (Array.isArray(m.online)) { online = m.online.map(String); renderOnline(); }
        break;
      case 5:
        if (me != null && m.previous === me) {
          me = m.user;
          wantName = me; syncUrl();
          if (document.activeElement !== nickInput) nickInput.value = me;
        }
        online = online.map(function (n) { return n === m.previous ? m.user : n; });
        renderOnline();
        addLine("msg-system", m);
        break;
      case 6: addLine("msg-error", m); break;
      default: if (m.msg != null) addLine("msg-system", m);
    }
  }

  function connect() {
    clearTimeout(retryTimer); retryTimer = null;
    var p = new URLSearchParams();
    p.set("room", room);
    // after a drop, ask for the name we had (default names too), so a blip keeps who you are
    var auto = everOpen && me ? me : "", n = auto || wantName;
    if (n) p.set("name", n);
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/?" + p.toString();
    setStatus(everOpen ? "reconnecting" : "connecting");
    var sock;
    try { sock = new WebSocket(url); } catch (e) { scheduleRetry(); return; }
    ws = state.socket = sock;
    sock.onopen = function () { if (ws !== sock) return; everOpen = true; setStatus("open"); };
    sock.onmessage = function (ev) {
      if (ws !== sock || typeof ev.data !== "string") return;
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (!m || typeof m !== "object") return;
      state.received.push(m);
      if (m.type === 3) sock.welcomed = true;
      // a reconnect asks for our old name; if it is still held by our old connection, the server
      // picks another one: that is not the person's error, so it is not shown
      if (m.type === 6 && auto && !sock.welcomed && /^(nickname_taken|bad_nickname)$/.test(m.code)) return;
      handle(m);
    };
    sock.onclose = function (ev) {
      if (ws !== sock) return;
      state.closes.push(ev.code);
      ws = null;
      setStatus("closed");
      if (everOpen && !lostShown) { addLine("msg-system", { msg: T.lost, time: "" }); lostShown = true; }
      scheduleRetry();
    };
  }
  function scheduleRetry() {
    var base = Math.min(10000, 500 * Math.pow(2, attempt));
    attempt = Math.min(attempt + 1, 10);
    var delay = Math.round(base / 2 + Math.random() * base / 2);
    setStatus("reconnecting");
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, delay);
  }
  function retryNow() { if (retryTimer) { attempt = 0; connect(); } }

  function send(obj) {
    if (!ws || ws.readyState !== 1) return false;
    ws.send(JSON.stringify(obj));
    return true;
  }
  function submit() {
    var text = input.value;
    if (!text.trim()) return;
    if (send({ cmd: "say", text: text })) { input.value = ""; autosize(); updateSend(); }
    input.focus();
  }
  function autosize() { input.style.height = "auto"; input.style.height = Math.min(input.scrollHeight + 2, 140) + "px"; }

  $("composer").addEventListener("submit", function (e) { e.preventDefault(); submit(); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); submit(); }
  });
  input.addEventListener("input", function () { autosize(); updateSend(); });
  $("nick-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var n = nickInput.value.trim();
    if (n && n !== me && send({ cmd: "nick", name: n })) { nickInput.blur(); mainEl.classList.remove("side-open"); }
  });
  $("room-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var r = roomInput.value.trim();
    if (!r || r === room) return;
    roomInput.blur(); mainEl.classList.remove("side-open");
    if (!send({ cmd: "join", room: r })) { setRoom(r); list.textContent = ""; seen = new Set(); syncUrl(); retryNow(); }
  });
  toggle.addEventListener("click", function () {
    var open = mainEl.classList.toggle("side-open");
    toggle.setAttribute("aria-expanded", String(open));
  });
  statusEl.addEventListener("click", retryNow);
  window.addEventListener("online", retryNow);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { unread = 0; document.title = room + " · " + T.title; retryNow(); }
  });

  setRoom(room);
  renderOnline();
  connect();
})();
