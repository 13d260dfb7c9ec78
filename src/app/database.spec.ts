import { requireDatabaseDriver } from './database';

describe('requireDatabaseDriver', () => {
  it('passes when the driver is installed', () => {
    expect(() => requireDatabaseDriver('better-sqlite3', 'the embedded SQLite database')).not.toThrow();
  });

  it('names the missing package and the command that installs it, in one line', () => {
    expect(() => requireDatabaseDriver('no-such-database-driver', 'the embedded SQLite database')).toThrow(
      new Error(
        'the embedded SQLite database needs the package no-such-database-driver; install it with: npm install no-such-database-driver',
      ),
    );
  });
});
