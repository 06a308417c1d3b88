/** The part of node-zookeeper-client@1 (a CommonJS module without types) that registrator uses. */
declare module "node-zookeeper-client" {
  import type { EventEmitter } from "node:events";

  namespace zookeeper {
    interface Stat {
      version: number;
      /** The owning session's id (8 bytes, big-endian); all zero for a persistent node. */
      ephemeralOwner: Buffer;
      numChildren: number;
    }

    interface ZkException extends Error {
      getCode(): number;
      getName(): string;
    }

    type Callback<T = void> = (error: ZkException | Error | null, result: T) => void;

    interface ClientState {
      name: string;
      code: number;
    }

    interface Client extends EventEmitter {
      connect(): void;
      close(): void;
      getState(): ClientState;
      getSessionId(): Buffer;
      getSessionTimeout(): number;
      create(path: string, data: Buffer | null, mode: number, callback: Callback<string>): void;
      mkdirp(path: string, callback: Callback<string>): void;
      remove(path: string, version: number, callback: (error: ZkException | Error | null) => void): void;
      exists(path: string, callback: Callback<Stat | null>): void;
      getChildren(path: string, callback: (error: ZkException | Error | null, children: string[], stat: Stat) => void): void;
      getData(path: string, callback: (error: ZkException | Error | null, data: Buffer | undefined, stat: Stat) => void): void;
      setData(path: string, data: Buffer | null, version: number, callback: Callback<Stat>): void;
    }

    interface ClientOptions {
      sessionTimeout?: number;
      spinDelay?: number;
      retries?: number;
    }

    function createClient(connectionString: string, options?: ClientOptions): Client;

    const CreateMode: { PERSISTENT: number; EPHEMERAL: number };
    const Exception: {
      NO_NODE: number;
      NODE_EXISTS: number;
      NOT_EMPTY: number;
      BAD_VERSION: number;
      SESSION_EXPIRED: number;
      CONNECTION_LOSS: number;
    };
    const State: { SYNC_CONNECTED: ClientState; DISCONNECTED: ClientState; EXPIRED: ClientState };
  }

  export = zookeeper;
}
