(function () {
  "use strict";
  var L = {
    en: { title: "Duplex chat", send: "Send", online: "Online", connecting: "Connecting…", open: "Connected",
          reconnecting: "Reconnecting…", closed: "Disconnected", placeholder: "Type a message…", nick: "Nickname",
          setNick: "Set", room: "Room", join: "Join", you: "you", nickPh: "Your name", roomPh: "Room name",
          lost: "Connection lost. Reconnecting…", back: "Reconnected", retry: "Click to retry now",
          newMessages: function (n) { return n === 1 ? "1 new message" : n + " new messages"; },
          badRoom: function (r, why, d) { return "“" + r + "” is not a room name you can use (" + why + "): you are in #" + d + " instead"; },
          today: "Today", yesterday: "Yesterday", tooLong: function (n) { return "At most " + n + " characters"; },
          entered: "entered", left: "left", rejoined: "came back",
          others: function (n) { return n === 1 ? "1 other" : n + " others"; }, and: " and " },
    zh: { title: "Duplex 聊天室", send: "发送", online: "在线", connecting: "连接中…", open: "已连接",
          reconnecting: "重新连接中…", closed: "已断开", placeholder: "输入消息…", nick: "昵称",
          setNick: "设置", room: "房间", join: "进入", you: "你", nickPh: "你的名字", roomPh: "房间名",
          lost: "连接已断开，正在重连…", back: "已重新连接", retry: "点击立即重试",
          newMessages: function (n) { return n + " 条新消息"; },
          badRoom: function (r, why, d) { return "“" + r + "” 不是可用的房间名（" + why + "），你现在在 #" + d; },
          today: "今天", yesterday: "昨天", tooLong: function (n) { return "最多 " + n + " 个字符"; },
          entered: "进入", left: "离开", rejoined: "回来了",
          others: function (n) { return "另外 " + n + " 人"; }, and: "、" }
  };
  var lang = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
  var T = /^zh/i.test(lang) ? L.zh : L.en;
  document.documentElement.lang = T === L.zh ? "zh-CN" : "en";

  function $(id) { return document.getElementById(id); }
  var list = $("messages"), input = $("msg"), sendBtn = $("send"), statusEl = $("status"),
      onlineEl = $("online"), nickInput = $("nick"), roomInput = $("room-input"), mainEl = $("main"),
      toggle = $("toggle-side"), counter = $("counter"), marker = $("new-marker");

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

  // The identity token the server issued: the same person across reloads and restarts.
  var TOKEN_KEY = "duplex-chat-token";
  function storedToken() { try { return localStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; } }
  function keepToken(t) { try { localStorage.setItem(TOKEN_KEY, t); } catch (e) { /* private mode: this tab only */ } }

  var params = new URLSearchParams(location.search);
  var room = params.get("room") || "general";
  var wantName = params.get("name") || "";
  var me = null;            // my current name (type 3 `you`, type 5 renames)
  var myUid = null;         // my identity (type 3 `uid`): decides which messages are mine
  var limit = 2000;         // the server's message limit (type 3 `limit`)
  var online = [];
  var seen = new Set();     // message ids shown in this room (history replay after reconnect)
  var ws = null, attempt = 0, retryTimer = null, everOpen = false, lostShown = false, unread = 0;
  var unseen = 0;           // messages that arrived while scrolled up
  var lastDay = null;       // local day of the last line with a time (day separators)
  var presence = null;      // the enter/leave group being extended
  var pendingText = null;   // the text last sent, restored if the server refuses it

  var state = window.duplexChat = { received: [], socket: null, closes: [] };

  function setStatus(s) {
    statusEl.dataset.state = s;
    $("status-text").textContent = T[s];
    statusEl.title = s === "reconnecting" ? T.retry : T[s];
    updateSend();
  }
  function length(text) { return Array.from(text.trim()).length; }
  function updateSend() {
    var n = length(input.value), over = n > limit;
    sendBtn.disabled = !(ws && ws.readyState === 1 && n > 0 && !over);
    counter.textContent = n ? n + " / " + limit : "";
    counter.classList.toggle("over", over);
    counter.title = over ? T.tooLong(limit) : "";
    input.setAttribute("aria-invalid", String(over));
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
  function clearList() { list.textContent = ""; seen = new Set(); lastDay = null; presence = null; hideMarker(); }

  // --- time: the reader's local time, from the instant the server sends (`ts`, ms UTC) ---
  function two(n) { return n < 10 ? "0" + n : String(n); }
  function localTime(ts) { var d = new Date(ts); return two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds()); }
  function dayKey(d) { return d.getFullYear() + "-" + (d.getMonth() + 1) + "-" + d.getDate(); }
  function dayLabel(ts) {
    var d = new Date(ts), now = new Date(), y = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
    if (dayKey(d) === dayKey(now)) return T.today;
    if (dayKey(d) === dayKey(y)) return T.yesterday;
    return d.toLocaleDateString(document.documentElement.lang, { weekday: "short", year: "numeric", month: "long", day: "numeric" });
  }
  function daySeparator(ts) {
    if (typeof ts !== "number") return;
    var key = dayKey(new Date(ts));
    if (key === lastDay) return;
    lastDay = key;
    var sep = el("div", "divider day", dayLabel(ts));
    sep.dataset.day = key;
    list.appendChild(sep);
    presence = null;
  }

  // --- scrolling and the "new messages" marker ---
  function nearBottom() { return list.scrollHeight - list.scrollTop - list.clientHeight < 80; }
  function toBottom() { list.scrollTop = list.scrollHeight; hideMarker(); }
  function hideMarker() { unseen = 0; marker.hidden = true; }
  function noteUnseen() {
    unseen++;
    marker.textContent = T.newMessages(unseen) + " ↓";
    marker.hidden = false;
  }
  list.addEventListener("scroll", function () { if (nearBottom()) hideMarker(); });
  marker.addEventListener("click", toBottom);

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }
  function timeEl(m) {
    var t = el("span", "time", typeof m.ts === "number" ? localTime(m.ts) : (m.time || ""));
    if (typeof m.ts === "number") { t.title = new Date(m.ts).toLocaleString(); t.dataset.ts = m.ts; }
    return t;
  }
  function addLine(cls, m, build, opts) {
    var stick = nearBottom() || (opts && opts.mine);
    if (opts && opts.dated) daySeparator(m.ts);   // messages only: a welcome is "now", not part of the story
    var line = el("div", "msg " + cls);
    if (build) build(line); else line.appendChild(el("span", "text", m.msg));
    line.appendChild(timeEl(m));
    list.appendChild(line);
    if (stick) toBottom(); else if (opts && opts.live) noteUnseen();
    if (!(opts && opts.presence)) presence = null;
    return line;
  }

  // Text with clickable links: only http and https, opened without access to this page.
  function linkify(parent, text) {
    var re = /\bhttps?:\/\/[^\s<>"']+/gi, at = 0, found;
    while ((found = re.exec(text))) {
      var href = found[0].replace(/[.,;:!?)\]]+$/, "");
      var url = null;
      try { url = new URL(href); } catch (e) { url = null; }
      if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
      parent.appendChild(document.createTextNode(text.slice(at, found.index)));
      var a = el("a", "link", href);
      a.href = url.href; a.target = "_blank"; a.rel = "noopener noreferrer nofollow";
      parent.appendChild(a);
      at = found.index + href.length;
      re.lastIndex = at;
    }
    parent.appendChild(document.createTextNode(text.slice(at)));
  }
  // A colour per person (12 shades), from the identity when known, else the name.
  function colourOf(m) {
    var key = m.uid != null ? String(m.uid) : String(m.user), h = 0;
    for (var i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0;
    return "c" + (h % 12);
  }
  function isMine(m) { return myUid != null ? m.uid === myUid : (me != null && m.user === me); }

  function chatLine(m) {
    if (m.id != null && seen.has(m.id)) return;
    if (m.id != null) seen.add(m.id);
    var mine = isMine(m);
    var last = list.lastElementChild;
    // consecutive messages of one person within 5 minutes form a group: the name once
    var cont = last && last.classList.contains("msg-chat") && last.dataset.who === String(m.uid != null ? m.uid : m.user) &&
      typeof m.ts === "number" && m.ts - Number(last.dataset.ts || 0) < 5 * 60 * 1000 && dayKey(new Date(m.ts)) === lastDay;
    var cls = "msg-chat" + (mine ? " mine" : "") + (m.history ? " history" : "") + (cont ? " cont" : "");
    var line = addLine(cls, m, function (line) {
      var msg = String(m.msg == null ? "" : m.msg), u = m.user, body = msg;
      if (typeof u === "string") {
        line.appendChild(el("span", "who " + colourOf(m), u));
        line.appendChild(el("span", "sep", ": "));
        body = typeof m.text === "string" ? m.text : (msg.indexOf(u + ": ") === 0 ? msg.slice(u.length + 2) : msg);
      }
      var span = el("span", "text");
      linkify(span, body);
      line.appendChild(span);
    }, { mine: mine, live: !m.history && !mine, dated: true });
    if (m.id != null) line.dataset.id = m.id;
    if (typeof m.user === "string") line.dataset.user = m.user;
    line.dataset.who = String(m.uid != null ? m.uid : m.user);
    if (typeof m.ts === "number") line.dataset.ts = m.ts;
    if (mine && pendingText != null && m.text === pendingText.trim()) pendingText = null;
    if (document.hidden && !mine && !m.history) { unread++; document.title = "(" + unread + ") " + room + " · " + T.title; }
  }

  // Enter and leave lines in a row collapse into one (a reload or a restart brings floods).
  function presenceLine(m, entered) {
    var name = typeof m.user === "string" ? m.user : null;
    if (presence && list.lastElementChild === presence.line && name) {
      if (entered) {
        var i = presence.left.indexOf(name);
        if (i >= 0) { presence.left.splice(i, 1); presence.back.push(name); }
        else if (presence.entered.indexOf(name) < 0) presence.entered.push(name);
      } else {
        var j = presence.entered.indexOf(name);
        if (j >= 0) presence.entered.splice(j, 1);
        if (presence.left.indexOf(name) < 0) presence.left.push(name);
      }
      presence.count++;
      renderPresence(presence, m);
      return;
    }
    var line = addLine(entered ? "msg-enter" : "msg-leave", m, null, { presence: true });
    presence = name ? { line: line, entered: entered ? [name] : [], left: entered ? [] : [name], back: [], count: 1 } : null;
  }
  function names(list) {
    if (list.length <= 3) return list.join(", ");
    return list.slice(0, 3).join(", ") + T.and + T.others(list.length - 3);
  }
  function renderPresence(p, m) {
    var line = p.line;
    line.textContent = "";
    line.className = "msg msg-presence" + (p.entered.length || p.back.length ? " msg-enter" : "") + (p.left.length ? " msg-leave" : "");
    var text = el("span", "text");
    var parts = [];
    if (p.entered.length) parts.push(["in", names(p.entered) + " " + T.entered]);
    if (p.back.length) parts.push(["in", names(p.back) + " " + T.rejoined]);
    if (p.left.length) parts.push(["out", names(p.left) + " " + T.left]);
    parts.forEach(function (part, k) {
      if (k) text.appendChild(document.createTextNode(" · "));
      text.appendChild(el("span", part[0], part[1]));
    });
    line.title = p.count + " × enter/leave";
    line.appendChild(text);
    line.appendChild(timeEl(m));
    if (nearBottom()) toBottom();
  }

  function renderOnline() {
    onlineEl.textContent = "";
    online.forEach(function (n) {
      var li = el("li", n === me ? "me" : "", n);
      if (n === me) li.dataset.you = T.you;
      onlineEl.appendChild(li);
    });
    var count = state.count != null && state.count > online.length ? state.count : online.length;
    $("online-count").textContent = count ? "· " + count : "";
    toggle.textContent = T.online + " · " + count;
  }

  var badRoom = null;       // a `bad_room` refusal of the room asked for in the URL
  function handle(m, sock) {
    switch (m.type) {
      case 0:
        presenceLine(m, true);
        if (typeof m.user === "string" && online.indexOf(m.user) < 0) { online.push(m.user); renderOnline(); }
        break;
      case 1:
        presenceLine(m, false);
        if (typeof m.user === "string") { online = online.filter(function (n) { return n !== m.user; }); renderOnline(); }
        break;
      case 2: chatLine(m); break;
      case 3:
        var asked = room;
        if (typeof m.room === "string" && m.room !== room) clearList();
        if (typeof m.room === "string") { setRoom(m.room); syncUrl(); }
        me = typeof m.you === "string" ? m.you : me;
        if (m.uid != null) myUid = m.uid;
        if (typeof m.token === "string" && m.token) keepToken(m.token);
        if (typeof m.limit === "number" && m.limit > 0) limit = m.limit;
        if (me && document.activeElement !== nickInput) nickInput.value = me;
        state.count = typeof m.count === "number" ? m.count : null;
        if (Array.isArray(m.online)) online = m.online.map(String);
        renderOnline();
        if (lostShown) { list.appendChild(el("div", "divider", T.back)); lostShown = false; presence = null; }
        addLine("msg-system", m);
        if (badRoom) {
          addLine("msg-error bad-room", { msg: T.badRoom(asked, badRoom.msg.replace(/^[^:]*:\s*/, ""), m.room), ts: m.ts });
          badRoom = null;
        }
        attempt = 0;
        updateSend();
        break;
      case 4:
        state.count = typeof m.count === "number" ? m.count : state.count;
        // Large rooms send only the count; the list is kept from enter/leave events.
        if (Array.isArray(m.online)) online = m.online.map(String);
        renderOnline();
        break;
      case 5:
        if (isMine(m) || (me != null && m.previous === me && m.uid == null)) {
          me = m.user;
          wantName = me; syncUrl();
          if (document.activeElement !== nickInput) nickInput.value = me;
        }
        online = online.map(function (n) { return n === m.previous ? m.user : n; });
        renderOnline();
        addLine("msg-system", m);
        break;
      case 6:
        if (m.code === "bad_room" && !sock.welcomed) { badRoom = m; break; }
        addLine("msg-error", m);
        // the server refused what we sent: the text comes back to the composer
        if (pendingText != null && /^(too_long|rate_limited|overloaded|unavailable)$/.test(m.code) && !input.value) {
          input.value = pendingText; autosize(); updateSend();
        }
        pendingText = null;
        break;
      default: if (m.msg != null) addLine("msg-system", m);
    }
  }

  function connect() {
    clearTimeout(retryTimer); retryTimer = null;
    var p = new URLSearchParams();
    p.set("room", room);
    if (wantName) p.set("name", wantName);
    p.set("token", storedToken());   // empty: "I keep tokens, issue me one"
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
      handle(m, sock);
      if (m.type === 3) sock.welcomed = true;
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
    var text = input.value, n = length(text);
    if (!n || n > limit) return;   // over the limit: kept in the composer, the counter says why
    if (send({ cmd: "say", text: text })) { pendingText = text; input.value = ""; autosize(); updateSend(); toBottom(); }
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
    if (!send({ cmd: "join", room: r })) { setRoom(r); clearList(); syncUrl(); retryNow(); }
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
  updateSend();
  connect();
})();
