import type { ComponentType } from 'preact';

/**
 * A server-rendered island: its component's HTML plus its props as JSON in a data attribute
 * (escaped like any attribute), so the client hydrates exactly what the server rendered.
 */
export function Island<P extends object>(props: { name: string; component: ComponentType<P>; props: P }) {
  const C = props.component;
  return (
    <div class="island" data-island={props.name} data-props={JSON.stringify(props.props)}>
      <C {...props.props} />
    </div>
  );
}
