import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type en from '../messages/en.json';

/** One messages file per language; en.json is the reference every other file must match (a test checks). */
export type Messages = typeof en;
export type MessageKey = keyof Messages;
export type { Locale } from './pages.ts';

export const I18n = createContext<Messages | null>(null);

export function format(template: string, vars?: Record<string, string | number>) {
  if (!vars) return template;
  return template.replace(/\{(\w+)\}/g, (all, name: string) => (name in vars ? String(vars[name]) : all));
}

export type T = (key: MessageKey, vars?: Record<string, string | number>) => string;

export function useT(): T {
  const messages = useContext(I18n);
  if (!messages) throw new Error('no messages: wrap the tree in <I18n.Provider>');
  return (key, vars) => format(messages[key], vars);
}
