export async function mountMeasurements(_el: HTMLElement): Promise<void> {}
