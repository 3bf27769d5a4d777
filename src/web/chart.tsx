import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';
import { useEffect, useRef } from 'react';

// Records sent and rejected per run, as bars; the same numbers are in a table beside it.

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

export interface RunBar {
  label: string;
  sent: number;
  rejected: number;
}

export const SENT_COLOR = '#1d4ed8';
export const REJECTED_COLOR = '#b91c1c';

export function RunsChart(props: { bars: readonly RunBar[]; summary: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return undefined;
    const chart = new Chart(canvas.current, {
      type: 'bar',
      data: {
        labels: props.bars.map((bar) => bar.label),
        datasets: [
          { label: 'Sent', data: props.bars.map((bar) => bar.sent), backgroundColor: SENT_COLOR, maxBarThickness: 40 },
          { label: 'Rejected', data: props.bars.map((bar) => bar.rejected), backgroundColor: REJECTED_COLOR, maxBarThickness: 40 },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          x: { ticks: { color: '#334155', maxRotation: 50, autoSkip: true } },
          y: { beginAtZero: true, ticks: { color: '#334155', precision: 0 } },
        },
        plugins: { legend: { position: 'top', labels: { color: '#0f172a' } } },
      },
    });
    return () => chart.destroy();
  }, [props.bars]);
  return (
    <div className="chart">
      <canvas ref={canvas} role="img" aria-label={props.summary} />
    </div>
  );
}
