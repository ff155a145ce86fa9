import type { ComponentType } from 'preact';
import { Chat } from './Chat.tsx';
import { Follow } from './Follow.tsx';
import { Player } from './Player.tsx';

/** Every island the client can hydrate, by the name the server wrote in data-island. */
// biome-ignore lint/suspicious/noExplicitAny: props come from the server as JSON
export const islands: Record<string, ComponentType<any>> = { chat: Chat, follow: Follow, player: Player };
