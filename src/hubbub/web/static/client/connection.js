// @ts-check
// One WebSocket to the server: text frames out and in, and how it ended
// (hubbub.client.connection). Everything protocol-specific lives in protocol.js.

import { NotConnected } from "./errors.js";

/**
 * @typedef {object} ConnectionHandlers
 * @property {(text: string) => void} onFrame each frame received
 * @property {(connection: Connection, code: number, reason: string) => void} onClose how the
 *   connection ended, also when it never opened
 */

/** An open WebSocket carrying protocol frames. */
export class Connection {
  /** @param {WebSocket} socket */
  constructor(socket) {
    this._socket = socket;
  }

  /**
   * Connect to `url`; rejects with NotConnected if the socket closes first or does not open
   * within `timeout` ms.
   * @param {string} url
   * @param {number} timeout
   * @param {ConnectionHandlers} handlers
   * @returns {Promise<Connection>}
   */
  static open(url, timeout, { onFrame, onClose }) {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      const connection = new Connection(socket);
      const timer = setTimeout(() => {
        socket.close();
        reject(new NotConnected("the server did not answer in time"));
      }, timeout);
      socket.addEventListener("message", (event) => onFrame(event.data));
      socket.addEventListener("open", () => {
        clearTimeout(timer);
        resolve(connection);
      });
      socket.addEventListener("close", (event) => {
        clearTimeout(timer);
        reject(new NotConnected(`the connection closed (${event.code})`));
        onClose(connection, event.code, event.reason);
      });
    });
  }

  /** Whether frames can be sent now. */
  get isOpen() {
    return this._socket.readyState === WebSocket.OPEN;
  }

  /** @param {string} text */
  send(text) {
    this._socket.send(text);
  }

  /**
   * Close, unless it is closing or closed already.
   * @param {number} code
   * @param {string} reason
   */
  close(code, reason) {
    if (this._socket.readyState <= WebSocket.OPEN) this._socket.close(code, reason);
  }
}
