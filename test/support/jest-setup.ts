// Integration suites start real servers and wait for real work; their hooks need more than 5 s.
jest.setTimeout(120_000);
