// The moderator console: signs in through the JSON API, shows the moderation queue, claims
// and decides cases, and pages through the audit log. Plain browser JavaScript, no build
// step. Every string that comes from the API (captions, prompts, notes, names) is put into
// the page as text (textContent, text nodes, attributes), never parsed as HTML.
'use strict';

(function () {
  const TOKEN_KEY = 'flick.console.token';
  const MODERATOR_ROLES = ['moderator', 'admin'];
  const ACTIONS = [
    { value: 'dismiss', label: 'Dismiss', hint: 'no violation; the post stays as it is' },
    { value: 'remove', label: 'Remove', hint: 'the post is taken down for everyone' },
    { value: 'restrict', label: 'Restrict', hint: 'leaves For You and trending, never shown to minors' },
    { value: 'ban_author', label: 'Ban author', hint: 'their tokens stop working, all their posts are removed' },
  ];
  const REASONS = {
    sexual: 'Sexual content', violence: 'Violence', harassment: 'Harassment',
    likeness: 'Likeness misuse', minor_safety: 'Minor safety', spam: 'Spam', other: 'Other',
  };
  const PAGE = 20;

  const $ = (id) => document.getElementById(id);
  // queueLoad and auditLoad count the loads asked for: only the answer to the latest one is
  // shown, so an older answer that arrives late never undoes a newer one (a claim's).
  const state = { me: null, queueCursor: null, auditCursor: null, claimed: null, queueLoad: 0, auditLoad: 0 };
  // blob: URLs made for each case card's media, released when the card leaves the page.
  const cardBlobs = new WeakMap();

  // ---- building nodes (text only) ----

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'className') node.className = v;
      else if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function when(iso) {
    if (!iso) return el('span', { className: 'muted', text: '—' });
    const d = new Date(iso);
    const text = isNaN(d) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    return el('time', { datetime: iso, title: iso, text });
  }

  function userLabel(u) {
    if (!u || typeof u !== 'object') return u ? String(u) : '—';
    const name = u.display_name && u.display_name !== u.username ? u.display_name + ' ' : '';
    return name + '@' + u.username;
  }

  function show(node, visible) { node.hidden = !visible; }

  function setStatus(node, text, kind) {
    node.textContent = text || '';
    node.classList.toggle('error', kind === 'error');
    delete node.dataset.from;
  }

  function setListStatus(node, text, kind) {
    setStatus(node, text, kind);
    node.dataset.from = 'list';
  }

  // ---- the API ----

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // One request. Resolves to {status, body}; rejects with ApiError carrying the API's own
  // message (or a plain sentence when the server could not be reached or said nothing).
  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new ApiError(0, 'network', 'The server could not be reached. Check the connection and try again.');
    }
    let data = null;
    const type = res.headers.get('Content-Type') || '';
    if (res.status !== 204 && type.startsWith('application/json')) {
      try { data = await res.json(); } catch (e) { data = null; }
    }
    if (res.ok) return { status: res.status, body: data };
    const err = data && data.error ? data.error : {};
    const message = err.message || ('The server answered ' + res.status + '.');
    if (res.status === 401 && token && sessionStorage.getItem(TOKEN_KEY) === token) {
      // The session ended elsewhere (signed out, banned, expired): start again. A request
      // that was still out when the moderator signed out here says nothing more.
      endSession('Your session has ended. Sign in again.');
    }
    throw new ApiError(res.status, err.code || 'http_' + res.status, message);
  }

  // The first page of a list, or (more) the page after `cursor`.
  function pagePath(base, more, cursor) {
    return base + '?limit=' + PAGE + (more && cursor ? '&cursor=' + encodeURIComponent(cursor) : '');
  }

  // ---- views ----

  function showView(name) {
    for (const v of ['signin', 'refused', 'queue', 'audit']) show($('view-' + v), v === name);
    const inApp = name === 'queue' || name === 'audit';
    show($('nav'), inApp);
    show($('who'), inApp);
    for (const tab of document.querySelectorAll('.tab')) {
      if (tab.dataset.view === name) tab.setAttribute('aria-current', 'page');
      else tab.removeAttribute('aria-current');
    }
  }

  function banner(text) {
    setStatus($('banner'), text);
    show($('banner'), Boolean(text));
  }

  function endSession(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.queueLoad++;
    state.auditLoad++;
    state.me = null;
    state.claimed = null;
    releaseCards(document);
    $('queue-list').replaceChildren();
    $('audit-rows').replaceChildren();
    $('claimed-case').replaceChildren();
    show($('claimed'), false);
    $('password').value = '';
    showView('signin');
    banner(message || '');
    $('username').focus();
  }

  // After sign-in or on reload with a stored token: who is this, and may they moderate?
  async function enter() {
    const { body: me } = await api('GET', '/v1/me');
    if (!MODERATOR_ROLES.includes(me.role)) {
      // Not a moderator: say so plainly, and do not keep a token the console cannot use.
      await api('POST', '/v1/auth/logout').catch(() => {});
      sessionStorage.removeItem(TOKEN_KEY);
      $('refused-text').textContent = 'This console is for moderators. @' + me.username +
        ' is signed in as a regular user, so there is nothing to review here.';
      showView('refused');
      $('refused-back').focus();
      return;
    }
    state.me = me;
    $('who-name').textContent = '@' + me.username;
    $('who-role').textContent = me.role;
    banner('');
    showView('queue');
    $('main').focus();
    await loadQueue(false);
  }

  // ---- sign in / out ----

  async function onSignIn(ev) {
    ev.preventDefault();
    const errorNode = $('signin-error');
    show(errorNode, false);
    const username = $('username').value.trim();
    const password = $('password').value;
    if (!username || !password) {
      errorNode.textContent = 'Enter your username and password.';
      show(errorNode, true);
      return;
    }
    const button = ev.target.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const { body } = await api('POST', '/v1/auth/login', { username, password });
      sessionStorage.setItem(TOKEN_KEY, body.token);
      $('password').value = '';
      await enter();
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      errorNode.textContent = e.message;
      show(errorNode, true);
      $('password').focus();
    } finally {
      button.disabled = false;
    }
  }

  async function onSignOut() {
    await api('POST', '/v1/auth/logout').catch(() => {});
    endSession('You are signed out.');
  }

  // ---- cases ----

  function claimState(c) {
    const by = c.claimed_by;
    const byId = by && typeof by === 'object' ? by.id : by;
    const live = c.claim_expires_at && new Date(c.claim_expires_at) > new Date();
    if (c.status === 'decided') return { text: 'Decided', mine: false, other: false };
    if (!byId || !live) return { text: 'Open', mine: false, other: false };
    if (state.me && String(byId) === String(state.me.id)) return { text: 'Claimed by you', mine: true, other: false };
    const who = by && typeof by === 'object' ? ' by @' + by.username : ' by another moderator';
    return { text: 'Claimed' + who, mine: false, other: true };
  }

  // A reported post is often hidden from everyone but moderators, and a signed media URL
  // opens only what the public may see; so the console fetches media with its token and
  // shows it from a blob: URL owned by the case card.
  async function mediaBlobUrl(card, url) {
    const res = await fetch(url, { headers: { Authorization: 'Bearer ' + sessionStorage.getItem(TOKEN_KEY) } });
    if (!res.ok) throw new ApiError(res.status, 'media', 'The media could not be loaded (' + res.status + ').');
    const blobUrl = URL.createObjectURL(await res.blob());
    if (!cardBlobs.has(card)) cardBlobs.set(card, []);
    cardBlobs.get(card).push(blobUrl);
    return blobUrl;
  }

  function releaseCards(container) {
    for (const card of container.querySelectorAll('article.case')) {
      for (const u of cardBlobs.get(card) || []) URL.revokeObjectURL(u);
      cardBlobs.delete(card);
    }
  }

  // The poster at once; the video (megabytes) only when the moderator asks for it.
  function fillMedia(card, holder, post) {
    const media = post && post.media;
    const posters = media && Array.isArray(media.poster) ? media.poster : [];
    // Posters come smallest first: the second is large enough for a card.
    const poster = posters.length ? posters[Math.min(1, posters.length - 1)] : null;
    const video = media && media.video && media.video.url ? media.video : null;
    if (!poster && !video) {
      holder.append(el('div', { className: 'no-media', text: 'No media' }));
      return;
    }
    const failed = (e) => holder.replaceChildren(el('div', { className: 'no-media', role: 'alert', text: e.message }));
    let img = null;
    if (poster) {
      img = el('img', { alt: 'Poster frame of the reported video', width: poster.width, height: poster.height });
      holder.append(img);
      mediaBlobUrl(card, poster.url).then((u) => { img.src = u; }).catch(failed);
    }
    if (!video) return;
    const play = el('button', { type: 'button', className: 'quiet play', text: 'Play video' });
    holder.append(play);
    play.addEventListener('click', async () => {
      play.disabled = true;
      play.textContent = 'Loading video…';
      try {
        const player = el('video', {
          controls: true, playsinline: true, src: await mediaBlobUrl(card, video.url),
          poster: img && img.src ? img.src : null, 'aria-label': 'The reported video',
        });
        holder.replaceChildren(player);
        player.focus();
      } catch (e) {
        failed(e);
      }
    });
  }

  function decisionForm(form, c, claim) {
    const choices = form.querySelector('.choices');
    const group = 'action-' + c.id;
    for (const a of ACTIONS) {
      const id = group + '-' + a.value;
      choices.append(el('div', { className: 'choice' },
        el('input', { type: 'radio', name: 'action', id, value: a.value, required: true }),
        el('label', { for: id }, el('strong', { text: a.label }), ' ', el('span', { className: 'muted', text: a.hint }))));
    }
    const error = form.querySelector('.error');
    const button = form.querySelector('button[type=submit]');
    button.textContent = 'Decide case ' + c.id;
    if (claim.other) {
      error.textContent = 'This case is held by another moderator.';
      show(error, true);
    }
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      show(error, false);
      const picked = form.querySelector('input[name=action]:checked');
      if (!picked) {
        error.textContent = 'Choose an action first.';
        show(error, true);
        return;
      }
      const note = form.querySelector('textarea').value.trim();
      const body = { action: picked.value };
      if (note) body.note = note;
      button.disabled = true;
      try {
        const { body: decided } = await api('POST', '/v1/moderation/cases/' + encodeURIComponent(c.id) + '/decision', body);
        const action = decided && decided.decision ? decided.decision.action : picked.value;
        if (state.claimed && String(state.claimed.id) === String(c.id)) setClaimed(null);
        setStatus($('queue-status'), 'Case ' + c.id + ' decided: ' + actionLabel(action) + '.');
        await loadQueue(false);
      } catch (e) {
        error.textContent = e.status === 409 ? 'This case is held by another moderator.' : e.message;
        show(error, true);
      } finally {
        button.disabled = false;
      }
    });
  }

  function actionLabel(value) {
    const a = ACTIONS.find((x) => x.value === value);
    return a ? a.label.toLowerCase() : String(value);
  }

  function caseNode(c) {
    const node = $('case-template').content.firstElementChild.cloneNode(true);
    const post = c.post || {};
    const claim = claimState(c);
    node.dataset.caseId = c.id;
    node.setAttribute('aria-label', 'Case ' + c.id);
    node.classList.toggle('mine', claim.mine);
    node.querySelector('.priority').textContent = String(c.priority);
    node.querySelector('.case-title').textContent = 'Case ' + c.id;
    const badge = node.querySelector('.case-state');
    badge.textContent = claim.text;
    if (claim.mine) {
      badge.classList.add('ok');
      badge.append(' until ', when(c.claim_expires_at));
    }
    fillMedia(node, node.querySelector('.media'), post);
    node.querySelector('.author').textContent = userLabel(post.author);
    const caption = node.querySelector('.caption');
    if (post.caption) caption.textContent = post.caption;
    else caption.append(el('span', { className: 'muted', text: 'No caption' }));
    node.querySelector('.prompt').textContent = post.prompt || '—';
    const flags = [post.status, post.visibility, post.restricted ? 'restricted' : null].filter(Boolean);
    node.querySelector('.post-state').append(
      el('span', { text: 'Post ' + (post.id || '?') + (flags.length ? ' · ' + flags.join(', ') : '') + ' · ' }),
      when(post.published_at || post.created_at));
    const n = Number(c.reporters) || 0;
    node.querySelector('.reporters').textContent = n + (n === 1 ? ' reporter' : ' reporters');
    const reasons = node.querySelector('.reasons');
    const entries = Object.entries(c.reasons || {}).sort((a, b) => b[1] - a[1]);
    for (const [reason, count] of entries) {
      reasons.append(el('li', { className: 'reason' + (reason === 'minor_safety' ? ' urgent' : '') },
        (REASONS[reason] || reason) + ' × ' + count));
    }
    const form = node.querySelector('form.decide');
    if (c.status === 'decided') form.remove();
    else decisionForm(form, c, claim);
    return node;
  }

  function setClaimed(c) {
    state.claimed = c;
    const holder = $('claimed-case');
    releaseCards(holder);
    holder.replaceChildren();
    if (c) {
      show($('queue-empty'), false);
      holder.append(caseNode(c));
      // A case I hold is shown once, here.
      const listed = $('queue-list').querySelector('article.case[data-case-id="' + CSS.escape(String(c.id)) + '"]');
      if (listed) {
        releaseCards(listed.parentElement);
        listed.parentElement.remove();
      }
    }
    show($('claimed'), Boolean(c));
  }

  async function loadQueue(more) {
    const status = $('queue-status');
    const list = $('queue-list');
    const load = ++state.queueLoad;
    try {
      const { body } = await api('GET', pagePath('/v1/moderation/queue', more, state.queueCursor));
      if (load !== state.queueLoad) return;
      if (!more) {
        releaseCards(list);
        list.replaceChildren();
        // "Your case" is the first case of the queue that I hold, as the queue says now:
        // a claim that expired or was decided meanwhile leaves it.
        setClaimed(null);
      }
      for (const c of body.items) {
        if (!more && !state.claimed && claimState(c).mine) {
          setClaimed(c);
          continue;
        }
        if (state.claimed && String(state.claimed.id) === String(c.id)) continue;
        list.append(el('li', null, caseNode(c)));
      }
      state.queueCursor = body.next_cursor;
      show($('queue-more'), Boolean(body.next_cursor));
      show($('queue-empty'), list.children.length === 0 && !state.claimed);
      // A failed load said so in the status line; a good one takes that back, and leaves
      // what a claim or a decision said there.
      if (status.dataset.from === 'list') setListStatus(status, '');
    } catch (e) {
      if (load === state.queueLoad) setListStatus(status, e.message, 'error');
    }
  }

  async function onClaim() {
    const status = $('queue-status');
    const button = $('claim');
    button.disabled = true;
    try {
      const res = await api('POST', '/v1/moderation/queue/claim');
      await loadQueue(false);
      if (res.status === 204 || !res.body) {
        setStatus(status, 'The queue is empty: there is no case to claim.');
      } else {
        setClaimed(res.body);
        setStatus(status, 'You hold case ' + res.body.id + ' for the next 10 minutes.');
        const first = $('claimed-case').querySelector('input[name=action]');
        if (first) first.focus();
      }
    } catch (e) {
      setStatus(status, e.message, 'error');
    } finally {
      button.disabled = false;
    }
  }

  // ---- audit ----

  function auditRow(entry) {
    const target = entry.target_type ? entry.target_type + ' ' + (entry.target_id == null ? '' : entry.target_id) : '—';
    return el('tr', null,
      el('td', null, when(entry.at)),
      el('td', { text: userLabel(entry.actor) }),
      el('td', null, el('span', { className: 'badge action-' + String(entry.action).replace(/[^a-z_]/g, ''), text: String(entry.action) })),
      el('td', { text: target }),
      el('td', { text: entry.case_id == null ? '—' : String(entry.case_id) }),
      el('td', { className: 'note', text: entry.note || '' }));
  }

  async function loadAudit(more) {
    const status = $('audit-status');
    const rows = $('audit-rows');
    const load = ++state.auditLoad;
    try {
      const { body } = await api('GET', pagePath('/v1/moderation/audit', more, state.auditCursor));
      if (load !== state.auditLoad) return;
      if (!more) rows.replaceChildren();
      for (const entry of body.items) rows.append(auditRow(entry));
      state.auditCursor = body.next_cursor;
      show($('audit-more'), Boolean(body.next_cursor));
      setStatus(status, rows.children.length ? '' : 'Nothing has been decided yet.');
    } catch (e) {
      if (load === state.auditLoad) setStatus(status, e.message, 'error');
    }
  }

  // ---- wiring ----

  function onTab(ev) {
    const view = ev.currentTarget.dataset.view;
    showView(view);
    if (view === 'audit') loadAudit(false);
    else loadQueue(false);
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('signin-form').addEventListener('submit', onSignIn);
    $('sign-out').addEventListener('click', onSignOut);
    $('refused-back').addEventListener('click', () => endSession(''));
    $('claim').addEventListener('click', onClaim);
    $('queue-refresh').addEventListener('click', () => loadQueue(false));
    $('queue-more').addEventListener('click', () => loadQueue(true));
    $('audit-refresh').addEventListener('click', () => loadAudit(false));
    $('audit-more').addEventListener('click', () => loadAudit(true));
    for (const tab of document.querySelectorAll('.tab')) tab.addEventListener('click', onTab);

    if (sessionStorage.getItem(TOKEN_KEY)) {
      enter().catch((e) => endSession(e.status === 401 ? 'Your session has ended. Sign in again.' : e.message));
    } else {
      endSession('');
    }
  });
})();
