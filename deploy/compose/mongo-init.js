// compose's mongo-init: as root (MONGO_ROOT_PASSWORD), initiates the replica set rs0 of
// mongo1..3 once (mongo1 preferred as primary), then makes or updates each service's
// user from /mongo-users.json: readWrite on its own database only. A second run
// finds all done.
db.getSiblingDB("admin").auth("root", process.env.MONGO_ROOT_PASSWORD);
try {
  rs.status();
  print("tiaki: replica set rs0 already initiated");
} catch (e) {
  if (e.codeName !== "NotYetInitialized") throw e;
  rs.initiate({
    _id: "rs0",
    members: [
      { _id: 0, host: "mongo1:27017", priority: 2 },
      { _id: 1, host: "mongo2:27017" },
      { _id: 2, host: "mongo3:27017" },
    ],
  });
  print("tiaki: replica set rs0 initiated");
}
for (let i = 0; i < 60 && !db.hello().isWritablePrimary; i++) sleep(1000);
if (!db.hello().isWritablePrimary) throw new Error("mongo1 is not primary yet");
for (const u of JSON.parse(require("fs").readFileSync("/mongo-users.json", "utf8"))) {
  const pwd = process.env[u.passwordFrom];
  if (!pwd) throw new Error("no password for " + u.user + ": set " + u.passwordFrom);
  const target = db.getSiblingDB(u.db);
  if (target.getUser(u.user)) target.updateUser(u.user, { pwd: pwd, roles: u.roles });
  else target.createUser({ user: u.user, pwd: pwd, roles: u.roles });
  print("tiaki: user " + u.user + " reaches " + u.db + " only");
}
