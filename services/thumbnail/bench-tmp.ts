import sharp from 'sharp';
import { renderCard, renderVariants } from './src/image.ts';

const sizes = [
  { width: 1280, height: 720 },
  { width: 640, height: 360 },
  { width: 320, height: 180 },
];
const q = { webp: 80, jpeg: 82 };
for (let i = 0; i < 2; i++) {
  let t = performance.now();
  const card = await renderCard({ title: 'Speedrun night with friends', category: 'Tetris' }, sizes[0]!);
  const tc = performance.now() - t;
  t = performance.now();
  const v = await renderVariants(card, sizes, ['webp', 'jpeg'], q);
  const tv = performance.now() - t;
  console.log(
    `card svg→png ${tc.toFixed(0)} ms, 6 variants ${tv.toFixed(0)} ms, bytes`,
    v.map((x) => `${x.size}.${x.format}=${x.data.length}`).join(' '),
  );
}
console.log('sharp concurrency', sharp.concurrency(), 'threadpool', process.env.UV_THREADPOOL_SIZE);
