// @xmpp/component 0.13 ships no type declarations; this covers the part the service uses.
declare module "@xmpp/component" {
  import { EventEmitter } from "node:events";

  export interface Element {
    name: string;
    attrs: Record<string, string | undefined>;
    children: Array<Element | string>;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
    toString(): string;
  }

  export function xml(
    name: string,
    attrs?: Record<string, string | undefined> | null,
    ...children: Array<Element | string>
  ): Element;

  export interface IqCaller {
    request(stanza: Element, timeoutMs?: number): Promise<Element>;
  }

  export interface ComponentOptions {
    service: string;
    domain: string;
    password: string;
  }

  export interface Component extends EventEmitter {
    status: string;
    options: ComponentOptions;
    iqCaller: IqCaller;
    reconnect: { stop(): void };
    connect(service: string): Promise<void>;
    open(options: { domain: string }): Promise<Element>;
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    send(stanza: Element): Promise<void>;
  }

  export function component(options: ComponentOptions): Component;
}
