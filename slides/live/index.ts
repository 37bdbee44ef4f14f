// Placeholder until the live widgets are wired in.
import { renderStaticDemo } from '../deck/static.js';
import type { DemoName } from '../deck/demos.js';
export async function mountDemo(el: HTMLElement, name: DemoName): Promise<void> {
  renderStaticDemo(el, name, 'No lab server.');
}
