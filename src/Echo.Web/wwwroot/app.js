// Echo's web page. Everything from the network is put on the page with textContent (never as
// HTML), so a message, nick, room or address is always shown as text.
'use strict';

(() => {
  const MAX_LINES_PER_ROOM = 2000;
  const byId = (id) => document.getElementById(id);
  const ui = {
    rooms: byId('rooms'), peers: byId('peers'), peerCount: byId('peer-count'), noPeers: byId('no-peers'),
    messages: byId('messages'), title: byId('room-title'), status: byId('status'), leave: byId('leave'),
    text: byId('text'), nick: byId('nick'), selfId: byId('self-id'), selfAddrs: byId('self-addrs'),
    joinForm: byId('join-form'), joinRoom: byId('join-room'), connectForm: byId('connect-form'),
    connectAddress: byId('connect-address'), nickForm: byId('nick-form'), sendForm: byId('send-form'),
  };

  // The chat as the page knows it; rebuilt from each snapshot.
  const state = {
    peerId: '', addrs: [], nick: '', room: null, rooms: [], peers: new Map(),
    lines: new Map(),  // room -> { ids: Set of message ids, items: [line] }
    unread: new Map(), // room -> count
    homeless: [],      // notices while in no room
  };
  let socket = null;
  let retryDelay = 500;
  let ended = false;
  const typed = [];
  let typedIndex = 0;

  // ---- helpers -----------------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // C0 controls and DEL become visible symbols; bidi controls are contained by unicode-bidi: isolate.
  function visible(text) {
    return String(text).replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g,
      (c) => String.fromCharCode(c === '\u007f' ? 0x2421 : 0x2400 + c.charCodeAt(0)));
  }

  function shortId(peerId) {
    return peerId.length <= 10 ? peerId : '…' + peerId.slice(-8);
  }

  function peerColor(peerId) {
    let hash = 0;
    for (let i = 0; i < peerId.length; i++) hash = (hash * 31 + peerId.charCodeAt(i)) >>> 0;
    return `hsl(${hash % 360} 70% 68%)`;
  }

  function clock(date) {
    return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  }

  function roomLines(room) {
    let entry = state.lines.get(room);
    if (!entry) {
      entry = { ids: new Set(), items: [] };
      state.lines.set(room, entry);
    }
    return entry;
  }

  function push(entry, line) {
    entry.items.push(line);
    if (entry.items.length > MAX_LINES_PER_ROOM) {
      const dropped = entry.items.shift();
      if (dropped.id) entry.ids.delete(dropped.id);
    }
  }

  // ---- rendering ---------------------------------------------------------------------------

  function renderLine(line) {
    const item = el('li');
    const when = el('time', null, clock(line.ts));
    when.dateTime = line.ts.toISOString();
    item.append(when);
    const body = el('div', 'body');
    if (line.kind === 'message') {
      item.className = 'msg' + (line.origin === 'self' ? ' self' : '');
      item.dataset.id = line.id;
      const nick = el('span', 'nick', visible(line.nick));
      nick.title = line.from;
      nick.style.setProperty('--peer', peerColor(line.from));
      body.append(nick);
      if (line.origin === 'echo-go') {
        const badge = el('span', 'badge', 'go');
        badge.title = 'an echo-go line: not signed, shown as the peer that sent it';
        body.append(badge, ' ');
      }
      body.append(el('span', 'text', visible(line.text)));
    } else {
      item.className = 'sys ' + line.kind;
      body.append(el('span', 'text', visible(line.text)));
    }
    item.append(body);
    return item;
  }

  function nearBottom() {
    const m = ui.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 60;
  }

  function renderConversation() {
    const items = state.room ? roomLines(state.room).items : state.homeless;
    const nodes = items.map(renderLine);
    if (nodes.length === 0) nodes.push(el('li', 'empty', state.room ? 'No messages yet. Say hello!' : 'You are in no room: join one on the left.'));
    ui.messages.replaceChildren(...nodes);
    ui.messages.scrollTop = ui.messages.scrollHeight;
  }

  function appendToView(line) {
    const stick = nearBottom();
    const empty = ui.messages.querySelector('.empty');
    if (empty) empty.remove();
    ui.messages.append(renderLine(line));
    while (ui.messages.children.length > MAX_LINES_PER_ROOM) ui.messages.firstChild.remove();
    if (stick) ui.messages.scrollTop = ui.messages.scrollHeight;
  }

  function renderRooms() {
    const nodes = state.rooms.map((room) => {
      const item = el('li', room === state.room ? 'room current' : 'room');
      item.dataset.room = room;
      const name = el('button', 'room-name', '#' + visible(room));
      name.type = 'button';
      name.title = 'switch to #' + room;
      name.addEventListener('click', () => request({ type: 'switch', room }));
      item.append(name);
      const unread = state.unread.get(room) || 0;
      if (unread > 0) item.append(el('span', 'unread', unread > 999 ? '999+' : unread));
      const leave = el('button', 'leave-room', '×');
      leave.type = 'button';
      leave.title = 'leave #' + room;
      leave.setAttribute('aria-label', 'leave #' + room);
      leave.addEventListener('click', () => request({ type: 'leave', room }));
      item.append(leave);
      return item;
    });
    ui.rooms.replaceChildren(...nodes);
    ui.title.textContent = state.room ? '#' + visible(state.room) : 'no room';
    ui.leave.classList.toggle('hidden', !state.room);
    ui.text.placeholder = state.room ? `Message #${state.room} — /help lists the commands` : '/join <room> to start';
    document.title = (state.room ? '#' + state.room + ' · ' : '') + 'Echo';
  }

  function renderPeers() {
    const peers = [...state.peers.values()];
    const nodes = peers.map((peer) => {
      const item = el('li', 'peer');
      item.dataset.peerId = peer.peerId;
      item.title = `${peer.peerId}\n${peer.address}\nfound: ${peer.source}`;
      const dot = el('span', 'dot');
      dot.style.setProperty('--peer', peerColor(peer.peerId));
      const nick = el('span', 'nick', visible(peer.nick || '?'));
      if (peer.echoGo) nick.append(el('span', 'badge', 'go'));
      const rtt = el('span', 'rtt', typeof peer.rttMs === 'number' ? peer.rttMs.toFixed(1) + ' ms' : '');
      item.append(dot, nick, rtt, el('span', 'short', shortId(visible(peer.peerId)) + ' · ' + peer.source));
      return item;
    });
    ui.peers.replaceChildren(...nodes);
    ui.peerCount.textContent = String(peers.length);
    ui.noPeers.classList.toggle('hidden', peers.length > 0);
  }

  function renderSelf() {
    if (document.activeElement !== ui.nick) ui.nick.value = state.nick;
    ui.selfId.textContent = state.peerId;
    ui.selfId.title = state.peerId;
    ui.selfAddrs.replaceChildren(...state.addrs.map((a) => {
      const item = el('li', null, a);
      item.title = a;
      return item;
    }));
  }

  function setStatus(kind, text) {
    ui.status.className = 'status ' + kind;
    ui.status.textContent = text;
  }

  // ---- events from the chat ----------------------------------------------------------------

  function messageLine(ev) {
    return { kind: 'message', id: ev.id, room: ev.room, from: ev.from, nick: ev.nick, text: ev.text, origin: ev.origin, ts: new Date(ev.ts) };
  }

  function addMessage(ev) {
    const entry = roomLines(ev.room);
    if (entry.ids.has(ev.id)) return; // also in the snapshot
    entry.ids.add(ev.id);
    const line = messageLine(ev);
    push(entry, line);
    if (ev.room === state.room) {
      appendToView(line);
    } else if (state.rooms.includes(ev.room)) {
      state.unread.set(ev.room, (state.unread.get(ev.room) || 0) + 1);
      renderRooms();
    }
  }

  // Notices and errors go where the user is looking: the current room.
  function addSystem(kind, text) {
    const line = { kind, text, ts: new Date() };
    push(state.room ? roomLines(state.room) : { items: state.homeless, ids: new Set() }, line);
    appendToView(line);
  }

  function applySnapshot(ev) {
    state.peerId = ev.peerId;
    state.addrs = ev.addrs || [];
    state.nick = ev.nick;
    state.room = ev.room || null;
    state.rooms = ev.rooms || [];
    state.peers = new Map((ev.peers || []).map((p) => [p.peerId, p]));
    state.lines = new Map();
    for (const m of ev.messages || []) {
      const entry = roomLines(m.room);
      if (!entry.ids.has(m.id)) {
        entry.ids.add(m.id);
        push(entry, messageLine(m));
      }
    }
    renderSelf();
    renderRooms();
    renderPeers();
    renderConversation();
  }

  function apply(ev) {
    switch (ev.type) {
      case 'snapshot':
        applySnapshot(ev);
        break;
      case 'message':
        addMessage(ev);
        break;
      case 'peer':
        if (ev.event === 'disconnected') {
          if (state.peers.delete(ev.peerId)) addSystem('notice', `${ev.nick || 'peer'} ${shortId(ev.peerId)} disconnected`);
        } else {
          if (ev.event === 'connected') addSystem('notice', `${ev.nick || 'peer'} ${shortId(ev.peerId)} connected (${ev.address})`);
          state.peers.set(ev.peerId, ev);
        }
        renderPeers();
        break;
      case 'joined':
        if (!state.rooms.includes(ev.room)) state.rooms.push(ev.room);
        push(roomLines(ev.room), { kind: 'notice', text: `joined #${ev.room}`, ts: new Date() });
        renderRooms();
        break;
      case 'left':
        state.rooms = state.rooms.filter((r) => r !== ev.room);
        state.lines.delete(ev.room);
        state.unread.delete(ev.room);
        if (state.room === ev.room) {
          state.room = null;
          renderConversation();
        }
        renderRooms();
        addSystem('notice', `left #${ev.room}`);
        break;
      case 'current':
        state.room = ev.room;
        state.unread.delete(ev.room);
        renderRooms();
        renderConversation();
        break;
      case 'nick':
        state.nick = ev.nick;
        renderSelf();
        addSystem('notice', `you are now ${ev.nick}`);
        break;
      case 'notice':
        addSystem('notice', ev.text);
        break;
      case 'error':
        addSystem('error', ev.message);
        break;
      case 'quit':
        ended = true;
        setStatus('offline', 'the node quit');
        break;
      default:
        break; // a kind of event this page does not know yet
    }
  }

  // ---- the WebSocket -----------------------------------------------------------------------

  function request(body) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(body));
      return true;
    }
    addSystem('error', 'not connected to the node; your request was not sent');
    return false;
  }

  function connect() {
    setStatus('connecting', 'connecting…');
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    socket = ws;
    let opened = false;
    ws.addEventListener('open', () => {
      opened = true;
      retryDelay = 500;
      setStatus('online', 'connected');
    });
    ws.addEventListener('message', (e) => {
      let ev;
      try {
        ev = JSON.parse(e.data);
      } catch {
        return;
      }
      if (ev && typeof ev.type === 'string') apply(ev);
    });
    ws.addEventListener('close', async () => {
      if (socket !== ws) return;
      socket = null;
      if (ended) return;
      if (!opened) {
        // Refused: a session the node no longer knows (it restarted), or the node is gone.
        try {
          const answer = await fetch('/api/state', { cache: 'no-store' });
          if (answer.status === 401) {
            ended = true;
            setStatus('offline', 'signed out: open the URL echo-chat printed');
            return;
          }
        } catch {
          // the node is not answering; try again below
        }
      }
      setStatus('offline', 'disconnected, retrying…');
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    });
  }

  // ---- input -------------------------------------------------------------------------------

  ui.sendForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = ui.text.value;
    if (text.trim() === '') return;
    if (request({ type: 'line', text })) {
      typed.push(text);
      if (typed.length > 200) typed.shift();
      typedIndex = typed.length;
      ui.text.value = '';
    }
  });

  // Up and Down recall what was typed, as in the terminal.
  ui.text.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowUp' && typedIndex > 0) {
      typedIndex--;
      ui.text.value = typed[typedIndex];
      e.preventDefault();
    } else if (e.key === 'ArrowDown' && typedIndex < typed.length) {
      typedIndex++;
      ui.text.value = typedIndex < typed.length ? typed[typedIndex] : '';
      e.preventDefault();
    }
  });

  ui.joinForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const room = ui.joinRoom.value.trim().replace(/^#/, '');
    if (room && request({ type: 'join', room })) ui.joinRoom.value = '';
  });

  ui.connectForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const address = ui.connectAddress.value.trim();
    if (address && request({ type: 'connect', address })) {
      ui.connectAddress.value = '';
      addSystem('notice', `connecting to ${address}…`);
    }
  });

  ui.nickForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const nick = ui.nick.value.trim();
    if (nick && nick !== state.nick) request({ type: 'nick', nick });
    ui.nick.blur();
  });

  ui.leave.addEventListener('click', () => {
    if (state.room) request({ type: 'leave', room: state.room });
  });

  connect();
  ui.text.focus();
})();
