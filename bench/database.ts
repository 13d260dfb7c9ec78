/** The bench's own MariaDB database (`bench` by default): dropped and made again for each run. */
import { createConnection } from 'mysql2/promise';

export async function recreateDatabase(dbUrl: string): Promise<void> {
  const url = new URL(dbUrl);
  const name = url.pathname.replace(/^\//, '');
  if (!/^\w+$/.test(name)) throw new Error(`the bench database name must be a plain word, not ${name}`);
  url.pathname = '/';
  const connection = await createConnection(url.toString());
  try {
    await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
    await connection.query(`CREATE DATABASE \`${name}\``);
  } finally {
    await connection.end();
  }
}
