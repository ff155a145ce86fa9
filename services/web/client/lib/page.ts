import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { PageContext } from './pages.ts';

export type { Me, PageContext } from './pages.ts';

export const Page = createContext<PageContext | null>(null);

export function usePage(): PageContext {
  const page = useContext(Page);
  if (!page) throw new Error('no page context');
  return page;
}
