// End-to-end tests of the built web app (dist/) in Debian's headless Chromium, driven by
// playwright-core. They read the app only through its DOM contract (data-testid and data-*
// attributes), and every test fails if the page logged a console error or threw.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';

const SCREENSHOTS = fileURLToPath(new URL('./screenshots/', import.meta.url));
const CHROMIUM_ARGS = [
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const sel = {
  broker: '[data-testid="broker"]',
  partition: '[data-testid="partition"]',
  replica: '[data-testid="replica"]',
  playPause: '[data-testid="play-pause"]',
  speed: '[data-testid="speed"]',
  simTime: '[data-testid="sim-time"]',
  consumerPosition: '[data-testid="consumer-position"]',
  eventLog: '[data-testid="event-log"]',
  brokerAction: (id) => `[data-testid="broker-action"][data-broker-id="${id}"]`,
  brokerById: (id) => `[data-testid="broker"][data-broker-id="${id}"]`,
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Calls `read` every `interval` ms until `done(value)` holds; fails with `message` after `timeout`. */
async function poll(read, done, { timeout = 30_000, interval = 100, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await read();
    if (done(last)) return last;
    if (Date.now() > deadline) {
      assert.fail(`timed out after ${timeout} ms waiting for ${message}; last value: ${JSON.stringify(last)}`);
    }
    await sleep(interval);
  }
}

/** Everything the tests read, in one round trip. */
function snapshot(page) {
  return page.evaluate(() => {
    const all = (s) => [...document.querySelectorAll(s)];
    const int = (v) => (v != null && /^-?\d+$/.test(v) ? Number(v) : NaN);
    const play = document.querySelector('[data-testid="play-pause"]');
    const simTime = document.querySelector('[data-testid="sim-time"]');
    return {
      brokers: all('[data-testid="broker"]').map((e) => ({
        id: e.dataset.brokerId,
        state: e.dataset.state,
        replicas: [...e.querySelectorAll('[data-testid="replica"]')].map((r) => ({
          topic: r.dataset.topic,
          partition: r.dataset.partition,
          role: r.dataset.role,
        })),
      })),
      partitions: all('[data-testid="partition"]').map((e) => ({
        topic: e.dataset.topic,
        partition: e.dataset.partition,
        leader: e.dataset.leader,
        leo: int(e.dataset.leo),
        hw: int(e.dataset.hw),
      })),
      consumers: all('[data-testid="consumer-position"]').map((e) => ({
        partition: e.dataset.partition,
        offset: int(e.dataset.offset),
      })),
      simMs: simTime ? int(simTime.dataset.ms) : NaN,
      playing: play ? play.getAttribute('aria-pressed') === 'true' : null,
      playText: play ? play.textContent.trim() : null,
      events: all('[data-testid="event-log"] li').map((li) => li.textContent.trim()),
      controllers: all('[data-testid="controller"]').map((e) => ({
        id: e.dataset.controllerId,
        state: e.dataset.state,
      })),
    };
  });
}

const leoSum = (s) => s.partitions.reduce((sum, p) => sum + p.leo, 0);
const partitionOf = (s, topic, partition) =>
  s.partitions.find((p) => p.topic === topic && p.partition === String(partition));
const brokerOf = (s, id) => s.brokers.find((b) => b.id === String(id));

describe('Kafka Playground in Chromium', () => {
  let server;
  let browser;

  before(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    server = await startServer();
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  /**
   * Runs `body` on a fresh page of a fresh browser context, with the app loaded and mounted.
   * Fails the test if the page logged a console error or raised an uncaught exception, even
   * when `body` itself passed.
   */
  async function withApp(body) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(`console error: ${msg.text()}`);
    });
    page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
    let failure;
    try {
      const response = await page.goto(`${server.url}/`, { waitUntil: 'load' });
      assert.equal(response?.status(), 200, 'index.html is served');
      await page.waitForSelector(sel.broker, { timeout: 30_000 });
      await body(page);
    } catch (err) {
      failure = err;
    } finally {
      await context.close();
    }
    if (failure) {
      if (errors.length) failure.message += `\nthe page also reported:\n  ${errors.join('\n  ')}`;
      throw failure;
    }
    assert.deepEqual(errors, [], 'the page logged no console error and threw no exception');
  }

  async function setSpeed(page, value) {
    const chosen = await page.selectOption(sel.speed, value);
    assert.deepEqual(chosen, [value], `speed ${value} is selected`);
  }

  async function pressPlay(page) {
    const s = await snapshot(page);
    assert.equal(s.playing, false, 'the simulation is paused before pressing Play');
    assert.equal(s.playText, 'Play');
    await page.click(sel.playPause);
    await poll(() => snapshot(page), (x) => x.playing === true && x.playText === 'Pause', {
      timeout: 5_000,
      message: 'the play-pause button to show "Pause" with aria-pressed="true"',
    });
  }

  async function pressPause(page) {
    await page.click(sel.playPause);
    await poll(() => snapshot(page), (x) => x.playing === false && x.playText === 'Play', {
      timeout: 5_000,
      message: 'the play-pause button to show "Play" with aria-pressed other than "true"',
    });
  }

  test('loads with three live brokers and a led partition each', { timeout: 60_000 }, async () => {
    await withApp(async (page) => {
      assert.equal(await page.title(), 'Kafka Playground');
      const s = await poll(() => snapshot(page), (x) => x.brokers.length >= 3 && x.partitions.length >= 3, {
        timeout: 10_000,
        message: '3 brokers and 3 partitions to render',
      });
      await page.screenshot({ path: join(SCREENSHOTS, 'initial.png'), fullPage: true });

      assert.equal(s.brokers.length, 3, 'the default scenario has 3 brokers');
      assert.deepEqual(s.brokers.map((b) => b.id).sort(), ['1', '2', '3']);
      for (const b of s.brokers) assert.equal(b.state, 'alive', `broker ${b.id} starts alive`);

      const orders = s.partitions.filter((p) => p.topic === 'orders');
      assert.equal(s.partitions.length, 3, 'the default scenario has 3 partitions');
      assert.deepEqual(orders.map((p) => p.partition).sort(), ['0', '1', '2'], 'topic "orders" has partitions 0..2');
      const brokerIds = new Set(s.brokers.map((b) => b.id));
      for (const p of orders) {
        assert.ok(brokerIds.has(p.leader), `orders-${p.partition} is led by a broker (data-leader="${p.leader}")`);
        assert.ok(Number.isInteger(p.leo) && p.leo >= 0, `orders-${p.partition} data-leo is an integer`);
        assert.ok(Number.isInteger(p.hw) && p.hw >= 0 && p.hw <= p.leo, `orders-${p.partition} 0 <= hw <= leo`);
        // The leader's broker card draws this partition's replica in the leader role.
        const leaderCard = brokerOf(s, p.leader);
        assert.ok(
          leaderCard.replicas.some((r) => r.topic === 'orders' && r.partition === p.partition && r.role === 'leader'),
          `broker ${p.leader}'s card shows a leader replica of orders-${p.partition}`,
        );
      }
      const roles = new Set(['leader', 'follower', 'out-of-sync', 'offline']);
      for (const b of s.brokers) {
        for (const r of b.replicas) assert.ok(roles.has(r.role), `replica role "${r.role}" is known`);
      }

      // Controls: paused at start, the five speeds, a Kill button per live broker.
      assert.equal(s.playing, false, 'the page starts paused');
      assert.equal(s.playText, 'Play');
      const speeds = await page.$$eval(`${sel.speed} option`, (opts) => opts.map((o) => o.value));
      assert.deepEqual(speeds, ['1', '2', '5', '10', '20']);
      for (const b of s.brokers) {
        assert.equal((await page.textContent(sel.brokerAction(b.id)))?.trim(), 'Kill', `broker ${b.id} offers Kill`);
      }
      assert.ok(Number.isInteger(s.simMs) && s.simMs >= 0, 'sim-time has an integer data-ms');
      assert.ok(s.consumers.length > 0, 'consumer positions are shown');
      assert.ok(await page.isVisible(sel.eventLog), 'the event log is visible');
    });
  });

  test('offsets advance while playing and stop while paused', { timeout: 90_000 }, async () => {
    await withApp(async (page) => {
      const start = await snapshot(page);
      await setSpeed(page, '10');
      await pressPlay(page);
      const startLeo = leoSum(start);
      await poll(
        () => snapshot(page),
        (x) =>
          leoSum(x) > startLeo &&
          x.consumers.some((c, i) => {
            const before = start.consumers[i];
            return before !== undefined && c.partition === before.partition && c.offset > before.offset;
          }),
        { timeout: 30_000, interval: 200, message: 'the log end offsets and a consumer position to advance' },
      );
      const playing = await snapshot(page);
      assert.ok(playing.simMs > start.simMs, 'simulated time advanced while playing');
      await page.screenshot({ path: join(SCREENSHOTS, 'playing.png'), fullPage: true });

      await pressPause(page);
      const paused = await snapshot(page);
      await sleep(1_500);
      const later = await snapshot(page);
      assert.equal(later.simMs, paused.simMs, 'simulated time stands still while paused');
      assert.equal(leoSum(later), leoSum(paused), 'log end offsets stand still while paused');
      assert.deepEqual(later.consumers, paused.consumers, 'consumer positions stand still while paused');
    });
  });

  test('killing the leader of orders-0 moves its leadership, and the broker restarts', { timeout: 120_000 }, async () => {
    await withApp(async (page) => {
      const start = await snapshot(page);
      const oldLeader = partitionOf(start, 'orders', 0)?.leader;
      assert.ok(brokerOf(start, oldLeader), `orders-0 has a leader broker (data-leader="${oldLeader}")`);

      // Killed while paused: the page's own scenario kills broker 1 at 5 s, so once playing at
      // 20x the button may already read Restart.
      const action = page.locator(sel.brokerAction(oldLeader));
      assert.equal((await action.textContent())?.trim(), 'Kill');
      await action.click();
      await setSpeed(page, '20');
      await pressPlay(page);

      await poll(() => snapshot(page), (x) => brokerOf(x, oldLeader)?.state === 'dead', {
        timeout: 10_000,
        message: `broker ${oldLeader} to show data-state="dead"`,
      });
      assert.equal((await action.textContent())?.trim(), 'Restart', 'a dead broker offers Restart');

      const moved = await poll(
        () => snapshot(page),
        (x) => {
          const leader = partitionOf(x, 'orders', 0)?.leader;
          return leader !== undefined && leader !== oldLeader && leader !== 'none';
        },
        { timeout: 30_000, interval: 200, message: `orders-0 to get a leader other than ${oldLeader} and "none"` },
      );
      const newLeader = partitionOf(moved, 'orders', 0).leader;
      assert.ok(brokerOf(moved, newLeader), `the new leader ${newLeader} is one of the brokers`);
      assert.equal(brokerOf(moved, newLeader).state, 'alive', 'the new leader is alive');

      // The narration names the new leader: a line about leadership that holds its id.
      const mentionsNewLeader = (line) => /leader/i.test(line) && new RegExp(`(^|[^0-9])${newLeader}(?![0-9])`).test(line);
      const withLog = await poll(() => snapshot(page), (x) => x.events.some(mentionsNewLeader), {
        timeout: 5_000,
        message: `an event-log line about broker ${newLeader} becoming leader`,
      });
      console.log(`orders-0 leader ${oldLeader} -> ${newLeader}: "${withLog.events.find(mentionsNewLeader)}"`);
      await page.screenshot({ path: join(SCREENSHOTS, 'after-kill.png'), fullPage: true });

      await action.click();
      await poll(() => snapshot(page), (x) => brokerOf(x, oldLeader)?.state === 'alive', {
        timeout: 30_000,
        interval: 200,
        message: `broker ${oldLeader} to show data-state="alive" again after Restart`,
      });
      assert.equal((await action.textContent())?.trim(), 'Kill', 'a restarted broker offers Kill again');
      await page.screenshot({ path: join(SCREENSHOTS, 'after-restart.png'), fullPage: true });
      await pressPause(page);
    });
  });
  test('killing the active controller makes the quorum elect another', { timeout: 90_000 }, async () => {
    await withApp(async (page) => {
      const start = await snapshot(page);
      assert.equal(start.controllers.length, 3, 'three controllers are drawn');
      const active = start.controllers.filter((c) => c.state === 'active');
      assert.equal(active.length, 1, `exactly one active controller, got ${JSON.stringify(start.controllers)}`);
      const old = active[0].id;
      await setSpeed(page, '5');
      await pressPlay(page);
      await page.click(`[data-testid="controller-action"][data-controller-id="${old}"]`);
      const after = await poll(
        () => snapshot(page),
        (x) => x.controllers.some((c) => c.id !== old && c.state === 'active'),
        { timeout: 30_000, interval: 200, message: `a controller other than ${old} to become active` },
      );
      await pressPause(page);
      assert.equal(after.controllers.find((c) => c.id === old)?.state, 'dead', `controller ${old} is drawn dead`);
      const winner = after.controllers.find((c) => c.state === 'active').id;
      assert.ok(
        after.events.some((line) => line.includes(`Controller ${winner} won the election`)),
        'the event log narrates the election of the new active controller',
      );
      await page.screenshot({ path: join(SCREENSHOTS, 'after-controller-failover.png'), fullPage: true });
    });
  });

  test('a controlled shutdown moves leadership away at once, while paused', { timeout: 60_000 }, async () => {
    await withApp(async (page) => {
      const start = await snapshot(page);
      const leader = partitionOf(start, 'orders', 0)?.leader;
      assert.ok(brokerOf(start, leader), `orders-0 has a leader broker (data-leader="${leader}")`);
      // Paused: the controller must not wait for a session timeout, only for the shutdown
      // request, which the page delivers when the clock advances; play briefly.
      await page.click(`[data-testid="broker-shutdown"][data-broker-id="${leader}"]`);
      await pressPlay(page);
      const after = await poll(
        () => snapshot(page),
        (x) => brokerOf(x, leader)?.state === 'dead' && partitionOf(x, 'orders', 0)?.leader !== leader,
        { timeout: 10_000, message: `broker ${leader} to stop and orders-0 to be led by another broker` },
      );
      await pressPause(page);
      const moved = partitionOf(after, 'orders', 0).leader;
      assert.notEqual(moved, 'none', 'with two other in-sync replicas orders-0 stays online');
      assert.ok(
        after.events.some((line) => /controlled shutdown/.test(line)),
        'the event log narrates the controlled shutdown',
      );
      // The controller moved the leadership within a fraction of a second of simulated time,
      // not after broker.session.timeout.ms (9 s).
      assert.ok(after.simMs < 9_000, `leadership moved at ${after.simMs} ms, before any session timeout`);
      await page.screenshot({ path: join(SCREENSHOTS, 'after-shutdown.png'), fullPage: true });
    });
  });
});
