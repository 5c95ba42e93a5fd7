/**
 * The Experiments side panel: the runs of the project's store (filter, sort,
 * select, compare), one run's details, and the registered models.
 */
import { Widget } from '@lumino/widgets';

import {
  DEFAULT_SORT,
  ISort,
  IRunSummary,
  buildFilter,
  formatDuration,
  formatTime,
  formatValue,
  hasRunning,
  keyMetrics,
  nextSort,
  orderBy
} from './logic';
import { IExperiment, IModel, IRunDetail, api } from './request';

const PAGE = 50;
const LIVE_REFRESH_MS = 3000;
const TYPING_DELAY_MS = 300;

type Child = Node | string | null | undefined | false;

/** Make an element: `h('div', {class: 'x', title: 't'}, child, ...)`. */
function h(
  tag: string,
  attrs: Record<string, string | undefined> = {},
  ...children: Child[]
): HTMLElement {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined) {
      el.setAttribute(key, value);
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      el.append(child);
    }
  }
  return el;
}

function button(label: string, title: string, onClick: () => void, cls = ''): HTMLButtonElement {
  const el = h('button', { class: `jp-Button mlops-Button ${cls}`.trim(), title, type: 'button' });
  el.textContent = label;
  el.addEventListener('click', onClick);
  return el as HTMLButtonElement;
}

function keyValueTable(values: Record<string, unknown>, cls: string): HTMLElement {
  const keys = Object.keys(values).sort();
  if (keys.length === 0) {
    return h('p', { class: 'mlops-Empty' }, 'none');
  }
  return h(
    'table',
    { class: `mlops-KeyValues ${cls}` },
    ...keys.map(key =>
      h('tr', {}, h('th', {}, key), h('td', { title: String(values[key]) }, formatValue(values[key])))
    )
  );
}

export interface IExperimentsPanelOptions {
  /** Compare the selected runs (inserts and runs `%mlops compare` in a notebook). */
  compare: (runIds: string[]) => Promise<void>;
}

export class ExperimentsPanel extends Widget {
  private readonly options: IExperimentsPanelOptions;
  private experiment = '';
  private filterText = '';
  private sort: ISort = DEFAULT_SORT;
  private runs: IRunSummary[] = [];
  private total = 0;
  private selected = new Set<string>();
  private detailId: string | null = null;
  private typingTimer = 0;
  private liveTimer = 0;
  private generation = 0;

  private readonly experimentSelect: HTMLSelectElement;
  private readonly filterInput: HTMLInputElement;
  private readonly errorLine: HTMLElement;
  private readonly compareButton: HTMLButtonElement;
  private readonly countLine: HTMLElement;
  private readonly listArea: HTMLElement;
  private readonly moreButton: HTMLButtonElement;
  private readonly detailArea: HTMLElement;
  private readonly modelsArea: HTMLElement;
  private readonly browseArea: HTMLElement;

  constructor(options: IExperimentsPanelOptions) {
    super();
    this.options = options;
    this.id = 'mlops-lab-experiments';
    this.addClass('mlops-ExperimentsPanel');
    this.title.caption = 'Experiments (mlops-lab)';

    this.experimentSelect = h('select', {
      class: 'mlops-ExperimentSelect',
      title: 'Show the runs of one experiment'
    }) as HTMLSelectElement;
    this.experimentSelect.addEventListener('change', () => {
      this.experiment = this.experimentSelect.value;
      void this.reload();
    });
    this.filterInput = h('input', {
      class: 'mlops-Filter jp-mod-styled',
      type: 'search',
      placeholder: "Filter: words, or metrics.acc > 0.9 and params.model = 'rf'",
      title:
        'Words match run names, experiments, ids and statuses; an expression ' +
        'uses the filter language of ml.runs(filter=...)'
    }) as HTMLInputElement;
    this.filterInput.addEventListener('input', () => {
      window.clearTimeout(this.typingTimer);
      this.typingTimer = window.setTimeout(() => this.applyFilter(), TYPING_DELAY_MS);
    });
    this.filterInput.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        window.clearTimeout(this.typingTimer);
        this.applyFilter();
      }
    });
    this.errorLine = h('div', { class: 'mlops-Error', role: 'alert' });
    this.compareButton = button(
      'Compare',
      'Compare the selected runs in the active notebook (%mlops compare)',
      () => void this.compareSelected(),
      'mlops-CompareButton jp-mod-accept'
    );
    const clear = button('Clear', 'Clear the selection', () => {
      this.selected.clear();
      this.render();
    });
    const refresh = button('⟳', 'Refresh', () => void this.refresh(), 'mlops-RefreshButton');
    this.countLine = h('span', { class: 'mlops-Count' });
    this.listArea = h('div', { class: 'mlops-Runs' });
    this.moreButton = button('Load more', 'Show the next runs', () => void this.loadMore());
    this.moreButton.classList.add('mlops-MoreButton');
    this.modelsArea = h('div', { class: 'mlops-Models' });
    const models = h(
      'details',
      { class: 'mlops-ModelsSection' },
      h('summary', {}, 'Models'),
      this.modelsArea
    );
    models.addEventListener('toggle', () => {
      if ((models as HTMLDetailsElement).open) {
        void this.loadModels();
      }
    });
    this.browseArea = h(
      'div',
      { class: 'mlops-Browse' },
      h('div', { class: 'mlops-Header' }, h('h2', {}, 'Experiments'), refresh),
      this.experimentSelect,
      this.filterInput,
      this.errorLine,
      h('div', { class: 'mlops-Toolbar' }, this.compareButton, clear, this.countLine),
      this.listArea,
      this.moreButton,
      models
    );
    this.detailArea = h('div', { class: 'mlops-Detail' });
    this.detailArea.hidden = true;
    this.node.append(this.browseArea, this.detailArea);
    this.render();
  }

  /** The ids of the selected runs, in the order they are listed. */
  get selection(): string[] {
    return this.runs.map(run => run.run_id).filter(id => this.selected.has(id));
  }

  protected onAfterShow(): void {
    void this.refresh();
  }

  protected onAfterAttach(): void {
    if (this.isVisible) {
      void this.refresh();
    }
  }

  dispose(): void {
    window.clearTimeout(this.liveTimer);
    window.clearTimeout(this.typingTimer);
    super.dispose();
  }

  /** Reload experiments and the runs listed so far (and the open run or models). */
  async refresh(): Promise<void> {
    await Promise.all([this.loadExperiments(), this.reload(Math.max(PAGE, this.runs.length))]);
    if (this.detailId) {
      await this.showRun(this.detailId);
    }
    const models = this.node.querySelector('details.mlops-ModelsSection') as HTMLDetailsElement;
    if (models?.open) {
      await this.loadModels();
    }
  }

  private applyFilter(): void {
    if (this.filterInput.value !== this.filterText) {
      this.filterText = this.filterInput.value;
      void this.reload();
    }
  }

  private query(offset: number, limit: number) {
    return {
      experiment: this.experiment || undefined,
      filter: buildFilter(this.filterText) || undefined,
      order_by: orderBy(this.sort),
      offset,
      limit
    };
  }

  private async loadExperiments(): Promise<void> {
    let experiments: IExperiment[];
    try {
      experiments = (await api.experiments()).experiments;
    } catch (error) {
      this.showError(error);
      return;
    }
    const total = experiments.reduce((n, e) => n + e.n_runs, 0);
    const choices: [string, string][] = [
      ['', `All experiments (${total})`],
      ...experiments.map(e => [e.name, `${e.name} (${e.n_runs})`] as [string, string])
    ];
    if (this.experiment && !experiments.some(e => e.name === this.experiment)) {
      choices.push([this.experiment, this.experiment]);
    }
    this.experimentSelect.replaceChildren(
      ...choices.map(([value, label]) => {
        const option = h('option', { value }, label) as HTMLOptionElement;
        option.selected = value === this.experiment;
        return option;
      })
    );
  }

  /** Fetch the first `limit` runs again (a new filter, sort or experiment starts here). */
  private async reload(limit = PAGE): Promise<void> {
    const generation = ++this.generation;
    try {
      const page = await api.runs(this.query(0, Math.min(limit, 500)));
      if (generation !== this.generation) {
        return; // a newer request was sent meanwhile
      }
      this.runs = page.runs;
      this.total = page.total;
      this.errorLine.textContent = '';
      if (!page.store.exists) {
        this.listArea.dataset.emptyReason = `No runs yet: the first ml.start_run() or %mlops start creates the store at ${page.store.root}`;
      } else {
        delete this.listArea.dataset.emptyReason;
      }
    } catch (error) {
      if (generation === this.generation) {
        this.showError(error);
      }
      return;
    }
    this.render();
    this.scheduleLiveRefresh();
  }

  private async loadMore(): Promise<void> {
    const generation = this.generation;
    const page = await api.runs(this.query(this.runs.length, PAGE));
    if (generation === this.generation) {
      const known = new Set(this.runs.map(r => r.run_id));
      this.runs = [...this.runs, ...page.runs.filter(r => !known.has(r.run_id))];
      this.total = page.total;
      this.render();
    }
  }

  /** While a listed run is running, refresh every few seconds (only when visible). */
  private scheduleLiveRefresh(): void {
    window.clearTimeout(this.liveTimer);
    if (!hasRunning(this.runs)) {
      return;
    }
    this.liveTimer = window.setTimeout(() => {
      if (this.isDisposed) {
        return;
      }
      if (this.isVisible) {
        void this.reload(Math.max(PAGE, this.runs.length));
      } else {
        this.scheduleLiveRefresh();
      }
    }, LIVE_REFRESH_MS);
  }

  private showError(error: unknown): void {
    this.errorLine.textContent = error instanceof Error ? error.message : String(error);
  }

  private render(): void {
    const selection = this.selection;
    this.compareButton.textContent = selection.length ? `Compare (${selection.length})` : 'Compare';
    this.compareButton.disabled = selection.length === 0;
    this.countLine.textContent =
      this.total === this.runs.length
        ? `${this.total} run${this.total === 1 ? '' : 's'}`
        : `${this.runs.length} of ${this.total} runs`;
    this.moreButton.hidden = this.runs.length >= this.total;
    if (this.runs.length === 0) {
      const reason =
        this.listArea.dataset.emptyReason ??
        (this.filterText || this.experiment ? 'No runs match.' : 'No runs yet.');
      this.listArea.replaceChildren(h('p', { class: 'mlops-Empty' }, reason));
      return;
    }
    const metrics = keyMetrics(this.runs);
    const now = Date.now() / 1000;
    const header = (label: string, key: string) => {
      const arrow = this.sort.key === key ? (this.sort.desc ? ' ↓' : ' ↑') : '';
      const th = h('th', { class: 'mlops-Sortable', 'data-sort': key, title: `Sort by ${label}` });
      th.textContent = label + arrow;
      th.addEventListener('click', () => {
        this.sort = nextSort(this.sort, key);
        void this.reload(Math.max(PAGE, this.runs.length));
      });
      return th;
    };
    const head = h(
      'tr',
      {},
      h('th', {}),
      header('Name', 'name'),
      header('Status', 'status'),
      ...metrics.map(key => header(key, `metrics.${key}`)),
      header('Started', 'start_time')
    );
    const rows = this.runs.map(run => {
      const box = h('input', {
        type: 'checkbox',
        title: 'Select for comparison',
        'aria-label': `select ${run.name ?? run.run_id}`
      }) as HTMLInputElement;
      box.checked = this.selected.has(run.run_id);
      box.addEventListener('click', event => event.stopPropagation());
      box.addEventListener('change', () => {
        if (box.checked) {
          this.selected.add(run.run_id);
        } else {
          this.selected.delete(run.run_id);
        }
        this.render();
      });
      const tr = h(
        'tr',
        {
          class: `mlops-Run${this.selected.has(run.run_id) ? ' mlops-mod-selected' : ''}`,
          'data-run-id': run.run_id,
          title: `${run.run_id}\n${run.experiment} · ${formatDuration(run.duration_s)}\nClick for details`
        },
        h('td', {}, box),
        h('td', { class: 'mlops-RunName' }, run.name || run.run_id.slice(0, 8)),
        h('td', {}, h('span', { class: `mlops-Status mlops-Status-${run.status}` }, run.status)),
        ...metrics.map(key => h('td', { class: 'mlops-Metric' }, formatValue(run.metrics[key]))),
        h('td', { class: 'mlops-Started' }, formatTime(run.start_time, now))
      );
      tr.addEventListener('click', () => void this.showRun(run.run_id));
      return tr;
    });
    this.listArea.replaceChildren(
      h('table', { class: 'mlops-RunsTable' }, h('thead', {}, head), h('tbody', {}, ...rows))
    );
  }

  private async compareSelected(): Promise<void> {
    const ids = this.selection;
    if (ids.length === 0) {
      return;
    }
    this.compareButton.disabled = true;
    try {
      await this.options.compare(ids);
    } catch (error) {
      this.showError(error);
    } finally {
      this.compareButton.disabled = false;
    }
  }

  /** Select runs by id (the palette's compare command and tests use it). */
  select(runIds: string[]): void {
    runIds.forEach(id => this.selected.add(id));
    this.render();
  }

  private async showRun(runId: string): Promise<void> {
    let run: IRunDetail;
    try {
      run = await api.run(runId);
    } catch (error) {
      this.showError(error);
      this.closeRun();
      return;
    }
    this.detailId = runId;
    const back = button('← Runs', 'Back to the runs', () => this.closeRun(), 'mlops-BackButton');
    const compare = button(
      'Compare in notebook',
      'Insert and run %mlops compare for this run and the selected ones',
      () =>
        void this.options
          .compare([runId, ...this.selection.filter(id => id !== runId)])
          .catch(error => this.showError(error))
    );
    const info: Record<string, unknown> = {
      id: run.run_id,
      experiment: run.experiment,
      status: run.status,
      started: run.start_time ? new Date(run.start_time * 1000).toLocaleString() : null,
      duration: formatDuration(run.duration_s),
      parent: run.parent_id,
      ...run.source
    };
    const cells = run.cells.map(cell =>
      h(
        'div',
        { class: `mlops-Cell mlops-Cell-${cell.status}` },
        h(
          'div',
          { class: 'mlops-CellHead' },
          `[${cell.execution_count ?? ' '}] ${cell.status}` +
            (cell.duration_s !== null ? ` · ${formatDuration(cell.duration_s)}` : '') +
            (cell.error_name ? ` · ${cell.error_name}: ${cell.error_value ?? ''}` : '')
        ),
        h('pre', {}, cell.source)
      )
    );
    const section = (title: string, body: Node) =>
      h('section', { class: 'mlops-Section' }, h('h3', {}, title), body);
    const rows = (items: Record<string, unknown>[], keys: string[]) =>
      items.length === 0
        ? h('p', { class: 'mlops-Empty' }, 'none')
        : h(
            'table',
            { class: 'mlops-ListTable' },
            h('tr', {}, ...keys.map(k => h('th', {}, k))),
            ...items.map(item => h('tr', {}, ...keys.map(k => h('td', {}, formatValue(item[k])))))
          );
    this.detailArea.replaceChildren(
      h('div', { class: 'mlops-Toolbar' }, back, compare),
      h(
        'h2',
        { class: 'mlops-DetailTitle' },
        run.name || run.run_id.slice(0, 8),
        ' ',
        h('span', { class: `mlops-Status mlops-Status-${run.status}` }, run.status)
      ),
      keyValueTable(info, 'mlops-Info'),
      section('Params', keyValueTable(run.params, 'mlops-Params')),
      section('Metrics', keyValueTable(run.metrics, 'mlops-Metrics')),
      section('Tags', keyValueTable(run.tags, 'mlops-Tags')),
      section('Datasets', rows(run.datasets, ['name', 'role', 'n_rows', 'n_cols', 'digest'])),
      section('Artifacts', rows(run.artifacts, ['path', 'kind', 'size'])),
      section(
        `Captured code (${run.cells.length} cells)`,
        cells.length ? h('div', {}, ...cells) : h('p', { class: 'mlops-Empty' }, 'none')
      )
    );
    this.browseArea.hidden = true;
    this.detailArea.hidden = false;
  }

  private closeRun(): void {
    this.detailId = null;
    this.detailArea.hidden = true;
    this.browseArea.hidden = false;
  }

  private async loadModels(): Promise<void> {
    let answer: { available: boolean; models: IModel[] };
    try {
      answer = await api.models();
    } catch (error) {
      this.modelsArea.replaceChildren(h('p', { class: 'mlops-Error' }, String(error)));
      return;
    }
    if (!answer.available) {
      this.modelsArea.replaceChildren(
        h('p', { class: 'mlops-Empty' }, 'The model registry is not available in this install.')
      );
      return;
    }
    if (answer.models.length === 0) {
      this.modelsArea.replaceChildren(
        h('p', { class: 'mlops-Empty' }, 'No registered models yet: ml.register_model(run, name).')
      );
      return;
    }
    this.modelsArea.replaceChildren(
      ...answer.models.map(model => {
        const versions = h('div', { class: 'mlops-Versions' });
        const item = h(
          'details',
          { class: 'mlops-Model', 'data-model': model.name },
          h(
            'summary',
            {},
            h('b', {}, model.name),
            ` v${model.latest_version} · ${model.versions} version${model.versions === 1 ? '' : 's'}`,
            model.aliases ? ` · ${model.aliases}` : ''
          ),
          versions
        );
        item.addEventListener('toggle', () => {
          if ((item as HTMLDetailsElement).open) {
            void this.loadVersions(model.name, versions);
          }
        });
        return item;
      })
    );
  }

  private async loadVersions(name: string, into: HTMLElement): Promise<void> {
    try {
      const { versions } = await api.modelVersions(name);
      const metrics = [
        ...new Set(versions.flatMap(v => Object.keys(v).filter(k => k.startsWith('metrics.'))))
      ].slice(0, 2);
      into.replaceChildren(
        h(
          'table',
          { class: 'mlops-ListTable' },
          h(
            'tr',
            {},
            h('th', {}, 'version'),
            h('th', {}, 'aliases'),
            h('th', {}, 'run'),
            ...metrics.map(m => h('th', {}, m.slice('metrics.'.length)))
          ),
          ...versions.map(v => {
            const run = h('a', { href: '#', title: v.run_id }, v.run_name || v.run_id.slice(0, 8));
            run.addEventListener('click', event => {
              event.preventDefault();
              void this.showRun(v.run_id);
            });
            return h(
              'tr',
              {},
              h('td', {}, String(v.version)),
              h('td', {}, v.aliases || '—'),
              h('td', {}, run),
              ...metrics.map(m => h('td', {}, formatValue(v[m])))
            );
          })
        )
      );
    } catch (error) {
      into.replaceChildren(h('p', { class: 'mlops-Error' }, String(error)));
    }
  }
}
