import type {
  ChannelView,
  HomeView,
  ProfileView,
  StampItem,
  StreamView,
  WalletPage,
  WebChannel,
  WebStream,
} from './views.ts';

/** Every page the server renders, with what it needs (the server and the SSR bundle share this type). */
export type PageProps =
  | { name: 'home'; view: HomeView }
  /** stamps: the picker's (null: the catalog is unavailable). */
  | { name: 'stream'; view: StreamView; src: string | null; stamps: StampItem[] | null }
  | { name: 'archive'; view: StreamView; src: string | null }
  | { name: 'channel'; view: ChannelView }
  | { name: 'profile'; view: ProfileView }
  | { name: 'auth'; props: AuthProps }
  | { name: 'wallet'; view: WalletPage }
  | { name: 'dashboard'; props: DashboardProps }
  | { name: 'error'; status: number; message: string };

export interface AuthProps {
  mode: 'signup' | 'login';
  next: string;
  error: string | null;
  values: { handle?: string; email?: string; login?: string };
}

export interface DashboardProps {
  /** null: the viewer has no channel yet; 'degraded': contents did not answer. */
  channel: WebChannel | null | 'degraded';
  live: WebStream | null;
  /** Only in the answer to creating the channel or regenerating the key: never stored, never shown again. */
  streamKey: string | null;
  ingestUrl: string;
  error: string | null;
}

/** The languages of the messages files. */
export type Locale = 'en' | 'ja';

export interface Me {
  id: string;
  handle: string;
  roles: string[];
}

/** What every page knows besides its view: who is looking, in which language, and the form token. */
export interface PageContext {
  locale: Locale;
  /** The path of this page (for the language switch and "back" links). */
  path: string;
  /** CSRF token for forms and the islands' writes; empty on a logged-out page without forms. */
  csrf: string;
  me: Me | null;
}
