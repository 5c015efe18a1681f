// A BIN resident on matrix-js-sdk with its Rust crypto (the stack Element uses), for the tests.
//
// It speaks line-delimited JSON over stdin/stdout:
//   request  {"id": 1, "cmd": "send", "args": {...}}
//   answer   {"id": 1, "ok": true, "result": ...}  or  {"id": 1, "ok": false, "error": "..."}
//   report   {"report": "event", "seq": 7, ...}     every event it sees, decrypted where it can
//   report   {"report": "membership", ...}          its own membership changes (invites, joins)
//   report   {"report": "fetch_refused", "url": ...} anything it tried to fetch elsewhere
// stdout carries nothing else: every log line of the SDK goes to stderr.

import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const MIN_NODE_MAJOR = 20;
const nodeMajor = Number(process.versions.node.split(".")[0]);
if (nodeMajor < MIN_NODE_MAJOR) {
    process.stderr.write(
        `resident.mjs needs Node ${MIN_NODE_MAJOR} or newer (matrix-js-sdk 37), this is ${process.versions.node}\n`,
    );
    process.exit(3);
}

// --- stdout belongs to the protocol ------------------------------------------------------------

const toStderr = (...parts) => process.stderr.write(parts.map(String).join(" ") + "\n");
for (const level of ["log", "info", "debug", "trace", "warn", "error"]) console[level] = toStderr;

function emit(message) {
    process.stdout.write(JSON.stringify(message) + "\n");
}

// --- nothing is fetched except from the homeserver under test ----------------------------------

let allowedOrigin = null;
const realFetch = globalThis.fetch;
globalThis.fetch = (resource, options) => {
    const url = new URL(typeof resource === "string" ? resource : (resource.url ?? String(resource)));
    if (allowedOrigin === null || url.origin !== allowedOrigin) {
        emit({ report: "fetch_refused", url: url.href });
        return Promise.reject(new Error(`resident: refused to fetch ${url.href}`));
    }
    return realFetch(resource, options);
};

const sdk = await import("matrix-js-sdk");
const { logger } = await import("matrix-js-sdk/lib/logger.js");
const cryptoApi = await import("matrix-js-sdk/lib/crypto-api/index.js");
const wasm = await import("@matrix-org/matrix-sdk-crypto-wasm");
logger.setLevel(process.env.BIN_JS_LOGLEVEL ?? "warn");

const packageVersion = (name) =>
    JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url))).version;

// --- state -------------------------------------------------------------------------------------

/** @type {import("matrix-js-sdk").MatrixClient | null} */
let client = null;
let password = null;
const events = []; // every reported event, in order; `seq` is the index + 1
const reportedBySeq = new Map(); // event id -> seq of its latest report
const waiters = new Set();

// --- reporting what the client sees ------------------------------------------------------------

async function describe(event) {
    const crypto = client.getCrypto();
    let shield = null;
    if (event.isEncrypted() && !event.isDecryptionFailure() && crypto) {
        const info = await crypto.getEncryptionInfoForEvent(event);
        if (info) {
            shield = {
                colour: cryptoApi.EventShieldColour[info.shieldColour],
                reason: info.shieldReason === null ? null : cryptoApi.EventShieldReason[info.shieldReason],
            };
        }
    }
    return {
        room_id: event.getRoomId(),
        event_id: event.getId(),
        sender: event.getSender(),
        type: event.getType(),
        state_key: event.getStateKey() ?? null,
        content: event.getContent(),
        encrypted: event.isEncrypted(),
        decryption_failure: event.isDecryptionFailure() ? String(event.decryptionFailureReason) : null,
        shield,
        thread_root: event.threadRootId ?? null,
        origin_server_ts: event.getTs(),
        // The whole event as this client holds it: the decrypted payload merged into the envelope.
        source: event.getEffectiveEvent(),
    };
}

async function report(event) {
    if (!event.getId() || !event.getRoomId() || event.getId().startsWith("~")) return; // local echo
    if (event.isBeingDecrypted() || event.shouldAttemptDecryption()) {
        await client.decryptEventIfNeeded(event);
    }
    const described = await describe(event);
    const seq = events.length + 1;
    const entry = { report: "event", seq, ...described };
    events.push(entry);
    reportedBySeq.set(described.event_id, seq);
    emit(entry);
    for (const waiter of [...waiters]) waiter();
}

function onEvent(event) {
    report(event).catch((error) => toStderr("resident: reporting an event failed:", error?.stack ?? error));
}

function onDecrypted(event) {
    // A late key (or a retry) turned a failure into a readable event: report it again.
    const seq = reportedBySeq.get(event.getId());
    if (seq !== undefined && events[seq - 1].decryption_failure !== null && !event.isDecryptionFailure()) {
        onEvent(event);
    }
}

function onMembership(room, membership, previous) {
    const me = room.getMember(client.getUserId());
    emit({
        report: "membership",
        room_id: room.roomId,
        membership,
        previous: previous ?? null,
        inviter: me?.events?.member?.getSender() ?? null,
        is_direct: me?.events?.member?.getContent()?.is_direct ?? null,
    });
}

// --- matching, for waitFor ---------------------------------------------------------------------

function matches(entry, filter) {
    if (filter.after !== undefined && entry.seq <= filter.after) return false;
    if (filter.room_id !== undefined && entry.room_id !== filter.room_id) return false;
    if (filter.not_room_id !== undefined && entry.room_id === filter.not_room_id) return false;
    if (filter.type !== undefined && entry.type !== filter.type) return false;
    if (filter.sender !== undefined && entry.sender !== filter.sender) return false;
    if (filter.msgtype !== undefined && entry.content?.msgtype !== filter.msgtype) return false;
    if (filter.kind !== undefined && entry.content?.["nl.bin"]?.kind !== filter.kind) return false;
    if (filter.body !== undefined && !String(entry.content?.body ?? "").includes(filter.body)) return false;
    if (filter.decrypted === true && (!entry.encrypted || entry.decryption_failure !== null)) return false;
    return true;
}

function waitFor(filter, timeoutMs) {
    return new Promise((resolve, reject) => {
        const check = () => {
            const hit = events.find((entry) => matches(entry, filter));
            if (hit) {
                waiters.delete(check);
                clearTimeout(timer);
                resolve(hit);
            }
        };
        const timer = setTimeout(() => {
            waiters.delete(check);
            reject(new Error(`no event matching ${JSON.stringify(filter)} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
    });
}

// --- helpers -----------------------------------------------------------------------------------

function requireClient() {
    if (client === null) throw new Error("log in first");
    return client;
}

function roomEvent(roomId, eventId) {
    const room = requireClient().getRoom(roomId);
    const event = room?.findEventById(eventId);
    if (!event) throw new Error(`event ${eventId} is not in this client's timeline of ${roomId}`);
    return event;
}

function until(predicate, timeoutMs, what) {
    return new Promise((resolve, reject) => {
        const started = Date.now();
        const tick = () => {
            if (predicate()) return resolve();
            if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
            setTimeout(tick, 50);
        };
        tick();
    });
}

/** The newest event of a thread this client has seen (Element's `thread.lastReply()`), or null. */
function latestInThread(roomId, rootId) {
    for (let index = events.length - 1; index >= 0; index--) {
        const entry = events[index];
        const relation = entry.source?.content?.["m.relates_to"];
        if (entry.room_id === roomId && entry.event_id !== rootId && entry.thread_root === rootId
            && relation?.rel_type === "m.thread") {
            return entry.event_id;
        }
    }
    return null;
}

function escapeHtml(text) {
    return text
        .replaceAll("&", "&amp;")
        .replaceAll("<", "&lt;")
        .replaceAll(">", "&gt;")
        .replaceAll('"', "&quot;")
        .replaceAll("'", "&#39;");
}

/** A matrix.to permalink the way Element builds one, with the server as `via`. */
function permalink(roomId, eventId) {
    const server = requireClient().getDomain();
    return `https://matrix.to/#/${roomId}/${eventId}?via=${encodeURIComponent(server)}`;
}

/** The legacy reply fallback that Element built before MSC2781 (and older clients still do). */
function legacyFallback(event) {
    const mxid = event.getSender();
    let body = String(event.getContent().body ?? "");
    const html = event.getContent().formatted_body ?? escapeHtml(body).replace(/\n/g, "<br/>");
    const head =
        `<mx-reply><blockquote><a href="${permalink(event.getRoomId(), event.getId())}">In reply to</a> ` +
        `<a href="https://matrix.to/#/${mxid}">${mxid}</a><br>`;
    const lines = body.trim().split("\n");
    lines[0] = `<${mxid}> ${lines[0]}`;
    body = lines.map((line) => `> ${line}`).join("\n") + "\n\n";
    return { body, html: `${head}${html}</blockquote></mx-reply>` };
}

// --- commands ----------------------------------------------------------------------------------

const commands = {
    async hello() {
        return {
            node: process.versions.node,
            matrix_js_sdk: packageVersion("matrix-js-sdk"),
            crypto_wasm: packageVersion("@matrix-org/matrix-sdk-crypto-wasm"),
        };
    },

    /** Log in with a password (a new device, as Element does) or with an existing token + device. */
    async login({ homeserver, user_id, password: secret, access_token, device_id, cross_sign = true, isolation = "only_signed" }) {
        if (client !== null) throw new Error("already logged in");
        allowedOrigin = new URL(homeserver).origin;
        let token = access_token;
        let device = device_id;
        if (secret !== undefined) {
            const anonymous = sdk.createClient({ baseUrl: homeserver });
            const response = await anonymous.loginRequest({
                type: "m.login.password",
                identifier: { type: "m.id.user", user: user_id },
                password: secret,
                initial_device_display_name: "BIN test resident (matrix-js-sdk)",
            });
            token = response.access_token;
            device = response.device_id;
            password = secret;
        }
        if (!token || !device) throw new Error("login needs a password, or an access_token and a device_id");
        client = sdk.createClient({ baseUrl: homeserver, userId: user_id, deviceId: device, accessToken: token });
        await client.initRustCrypto({ useIndexedDB: false });
        const crypto = client.getCrypto();
        if (isolation === "only_signed") {
            // Element's "exclude insecure devices": keys go only to devices cross-signed by their owner,
            // and only events from such devices are decrypted.
            crypto.setDeviceIsolationMode(new cryptoApi.OnlySignedDevicesIsolationMode());
            crypto.globalBlacklistUnverifiedDevices = true;
        } else if (isolation !== "all") {
            throw new Error(`unknown isolation mode ${isolation}`);
        }
        if (cross_sign) {
            await crypto.bootstrapCrossSigning({
                authUploadDeviceSigningKeys: async (makeRequest) => {
                    try {
                        await makeRequest(null); // the first upload needs no auth (MSC3967)
                    } catch (error) {
                        if (password === null) throw error;
                        await makeRequest({
                            type: "m.login.password",
                            identifier: { type: "m.id.user", user: user_id },
                            password,
                        });
                    }
                },
            });
        }
        client.on(sdk.ClientEvent.Event, onEvent);
        client.on(sdk.MatrixEventEvent.Decrypted, onDecrypted);
        client.on(sdk.RoomEvent.MyMembership, onMembership);
        const prepared = new Promise((resolve, reject) => {
            const onSync = (state, _previous, data) => {
                if (state === sdk.SyncState.Prepared || state === sdk.SyncState.Syncing) {
                    client.off(sdk.ClientEvent.Sync, onSync);
                    resolve();
                } else if (state === sdk.SyncState.Error) {
                    client.off(sdk.ClientEvent.Sync, onSync);
                    reject(new Error(`first sync failed: ${data?.error?.message ?? "unknown error"}`));
                }
            };
            client.on(sdk.ClientEvent.Sync, onSync);
        });
        await client.startClient({ initialSyncLimit: 20, pollTimeout: 5000 });
        await prepared;
        return {
            user_id,
            device_id: device,
            crypto: crypto.getVersion(),
            isolation,
            cross_signing_ready: await crypto.isCrossSigningReady(),
        };
    },

    /** Start a DM with someone the way Element does: encrypted, trusted_private_chat, m.direct. */
    async startDM({ user_id }) {
        const c = requireClient();
        const { room_id } = await c.createRoom({
            preset: "trusted_private_chat",
            is_direct: true,
            invite: [user_id],
            initial_state: [
                { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } },
            ],
        });
        const direct = c.getAccountData("m.direct")?.getContent() ?? {};
        direct[user_id] = [...(direct[user_id] ?? []), room_id];
        await c.setAccountData("m.direct", direct);
        await until(() => c.getRoom(room_id)?.hasEncryptionStateEvent(), 20000, "the new DM in sync");
        return { room_id };
    },

    /** Join a room and wait until this client knows it as joined and encrypted. */
    async join({ room_id }) {
        const c = requireClient();
        await c.joinRoom(room_id);
        await until(
            () => c.getRoom(room_id)?.getMyMembership() === "join" && c.getRoom(room_id).hasEncryptionStateEvent(),
            20000,
            `room ${room_id} joined and encrypted in sync`,
        );
        return { room_id };
    },

    async waitFor({ timeout_ms = 20000, ...filter }) {
        return waitFor(filter, timeout_ms);
    },

    async events() {
        return events;
    },

    /** Plain text as Element's composer sends it: with an empty intentional-mentions block. */
    async send({ room_id, text, msgtype = "m.text" }) {
        const content = { msgtype, body: text, "m.mentions": {} };
        const response = await requireClient().sendMessage(room_id, content);
        return { event_id: response.event_id };
    },

    async sendContent({ room_id, content, type = "m.room.message" }) {
        const response = await requireClient().sendEvent(room_id, type, content);
        return { event_id: response.event_id };
    },

    /**
     * Reply to an event. "element": what Element sends today (MSC2781, no fallback; the replied-to
     * sender in m.mentions). "legacy": the `> <@user>` lines and `<mx-reply>` block of older clients.
     */
    async reply({ room_id, event_id, text, style = "element" }) {
        const c = requireClient();
        const target = roomEvent(room_id, event_id);
        const content = { msgtype: "m.text", body: text };
        const mentioned = target.getSender() === c.getUserId() ? [] : [target.getSender()];
        content["m.mentions"] = { user_ids: mentioned };
        content["m.relates_to"] = { "m.in_reply_to": { event_id } };
        if (style === "legacy") {
            const fallback = legacyFallback(target);
            content.format = "org.matrix.custom.html";
            content.formatted_body = fallback.html + escapeHtml(text).replace(/\n/g, "<br>");
            content.body = fallback.body + text;
        } else if (style !== "element") {
            throw new Error(`unknown reply style ${style}`);
        }
        const response = await c.sendMessage(room_id, content);
        return { event_id: response.event_id, content };
    },

    /**
     * Send in a thread the way Element's thread view does (ThreadView's threadRelation): m.thread
     * to the root, `is_falling_back`, and `m.in_reply_to` the thread's latest event (the root when
     * the thread is empty), so thread-unaware clients show it as a reply to that. No mentions.
     */
    async sendInThread({ room_id, root_id, text, msgtype = "m.text" }) {
        const c = requireClient();
        const content = {
            msgtype,
            body: text,
            "m.mentions": {},
            "m.relates_to": {
                rel_type: "m.thread",
                event_id: root_id,
                is_falling_back: true,
                "m.in_reply_to": { event_id: latestInThread(room_id, root_id) ?? root_id },
            },
        };
        const sent = structuredClone(content);
        const response = await c.sendMessage(room_id, root_id, content);
        return { event_id: response.event_id, content: sent };
    },

    /** Edit one of our messages the way Element does (m.replace with m.new_content). */
    async edit({ room_id, event_id, text }) {
        const content = {
            msgtype: "m.text",
            body: ` * ${text}`,
            "m.new_content": { msgtype: "m.text", body: text, "m.mentions": {} },
            "m.mentions": {},
            "m.relates_to": { rel_type: "m.replace", event_id },
        };
        const response = await requireClient().sendMessage(room_id, content);
        return { event_id: response.event_id, content };
    },

    async redact({ room_id, event_id, reason }) {
        const response = await requireClient().redactEvent(room_id, event_id, undefined, reason ? { reason } : {});
        return { event_id: response.event_id };
    },

    /**
     * Send a photo the way Element Web does: encrypted with the Rust crypto's attachment
     * encryption, `body` the file name, an encrypted thumbnail and a blurhash in `info`.
     * With a `caption`, the Matrix 1.10 shape instead: `body` the caption, `filename` the name.
     */
    async sendImage({ room_id, path, name, mimetype = "image/jpeg", width, height, caption }) {
        const c = requireClient();
        const data = new Uint8Array(readFileSync(path));
        const upload = async () => {
            const encrypted = wasm.Attachment.encrypt(data);
            const file = JSON.parse(encrypted.mediaEncryptionInfo);
            const response = await c.uploadContent(encrypted.encryptedData, {
                type: "application/octet-stream",
                includeFilename: false,
            });
            return { ...file, url: response.content_uri, mimetype };
        };
        const file = await upload();
        const thumbnail = await upload(); // a small photo is its own thumbnail
        const dimensions = { ...(width ? { w: width } : {}), ...(height ? { h: height } : {}) };
        const content = {
            msgtype: "m.image",
            body: caption ?? name,
            ...(caption !== undefined ? { filename: name } : {}),
            info: {
                mimetype,
                size: data.length,
                ...dimensions,
                thumbnail_file: thumbnail,
                thumbnail_info: { mimetype, size: data.length, ...dimensions },
                "xyz.amorgos.blurhash": "LKO2?U%2Tw=w]~RBVZRi};RPxuwH",
            },
            file,
        };
        const response = await c.sendMessage(room_id, content);
        return { event_id: response.event_id, mxc: [file.url, thumbnail.url], content };
    },

    /** How this client rates someone's devices: signed by their owner, verified by us. */
    async devices({ user_id }) {
        const crypto = requireClient().getCrypto();
        const map = await crypto.getUserDeviceInfo([user_id], true);
        const out = [];
        for (const deviceId of map.get(user_id)?.keys() ?? []) {
            const status = await crypto.getDeviceVerificationStatus(user_id, deviceId);
            out.push({
                device_id: deviceId,
                signed_by_owner: status?.signedByOwner ?? false,
                cross_signing_verified: status?.crossSigningVerified ?? false,
            });
        }
        return out;
    },

    async stop() {
        client?.stopClient();
        setTimeout(() => process.exit(0), 10);
        return {};
    },
};

// --- the loop ----------------------------------------------------------------------------------

const input = createInterface({ input: process.stdin, crlfDelay: Infinity });
input.on("line", async (line) => {
    if (!line.trim()) return;
    let request;
    try {
        request = JSON.parse(line);
    } catch (error) {
        emit({ id: null, ok: false, error: `not JSON: ${line.slice(0, 80)}` });
        return;
    }
    const handler = commands[request.cmd];
    if (!handler) {
        emit({ id: request.id, ok: false, error: `unknown command ${request.cmd}` });
        return;
    }
    try {
        const result = await handler(request.args ?? {});
        emit({ id: request.id, ok: true, result });
    } catch (error) {
        const message = error?.data?.error ?? error?.message ?? String(error);
        toStderr(`resident: ${request.cmd} failed:`, error?.stack ?? error);
        emit({ id: request.id, ok: false, error: `${error?.name ?? "Error"}: ${message}` });
    }
});
input.on("close", () => {
    client?.stopClient();
    process.exit(0);
});

emit({ report: "ready", node: process.versions.node });
