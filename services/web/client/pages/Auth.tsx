import { useT } from '../lib/i18n.ts';
import { usePage } from '../lib/page.ts';
import type { AuthProps } from '../lib/pages.ts';
import { Layout } from './Layout.tsx';

/** Plain forms: they work without JavaScript, and the server sets HttpOnly cookies on success. */
export function Auth(props: AuthProps) {
  const t = useT();
  const page = usePage();
  const signup = props.mode === 'signup';
  return (
    <Layout>
      <div class="auth">
        <h1>{t(signup ? 'auth.signupTitle' : 'auth.loginTitle')}</h1>
        {props.error && (
          <p class="error" role="alert" data-testid="auth-error">
            {props.error}
          </p>
        )}
        <form method="post" action={signup ? '/signup' : '/login'} class="stack">
          <input type="hidden" name="_csrf" value={page.csrf} />
          <input type="hidden" name="next" value={props.next} />
          {signup ? (
            <>
              <label>
                {t('auth.handle')}
                <input
                  name="handle"
                  required
                  minLength={3}
                  maxLength={20}
                  pattern="[a-z0-9_]+"
                  autocomplete="username"
                  value={props.values.handle ?? ''}
                  aria-describedby="handle-hint"
                />
                <small id="handle-hint">{t('auth.handleHint')}</small>
              </label>
              <label>
                {t('auth.email')}
                <input name="email" type="email" required autocomplete="email" value={props.values.email ?? ''} />
              </label>
            </>
          ) : (
            <label>
              {t('auth.login')}
              <input name="login" required autocomplete="username" value={props.values.login ?? ''} />
            </label>
          )}
          <label>
            {t('auth.password')}
            <input
              name="password"
              type="password"
              required
              minLength={signup ? 10 : 1}
              autocomplete={signup ? 'new-password' : 'current-password'}
              aria-describedby={signup ? 'password-hint' : undefined}
            />
            {signup && <small id="password-hint">{t('auth.passwordHint')}</small>}
          </label>
          <button type="submit" class="button" data-testid="auth-submit">
            {t(signup ? 'auth.submitSignup' : 'auth.submitLogin')}
          </button>
        </form>
        <p>
          <a href={`${signup ? '/login' : '/signup'}?next=${encodeURIComponent(props.next)}`}>
            {t(signup ? 'auth.haveAccount' : 'auth.noAccount')}
          </a>
        </p>
      </div>
    </Layout>
  );
}
