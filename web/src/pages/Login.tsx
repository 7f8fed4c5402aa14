import { useState } from 'preact/hooks';
import { ApiError, post, setCsrfToken } from '../api';
import { ProblemView } from '../components/ui';

export function LoginPage(props: { reason?: string; onSignedIn: () => Promise<void> }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await post<{ csrf_token: string }>('/api/v1/auth/login', { email, password });
      setCsrfToken(res.data.csrf_token);
      setPassword('');
      await props.onSignedIn();
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="container login">
      <article>
        <header>
          <h1>TenantAtlas</h1>
          <p class="muted">Intune backup and restore for managed service providers</p>
        </header>
        {props.reason && <p role="status">{props.reason}</p>}
        <form onSubmit={submit} aria-label="Sign in">
          <label>
            Email
            <input
              type="email"
              name="email"
              autocomplete="username"
              required
              value={email}
              onInput={(e) => setEmail((e.target as HTMLInputElement).value)}
            />
          </label>
          <label>
            Password
            <input
              type="password"
              name="password"
              autocomplete="current-password"
              required
              value={password}
              onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
            />
          </label>
          <ProblemView error={error} />
          <button type="submit" aria-busy={busy} disabled={busy}>
            Sign in
          </button>
        </form>
      </article>
    </main>
  );
}
