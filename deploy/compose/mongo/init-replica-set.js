// Run once by the mongo-init service (mongosh, authenticated as the root user): turn the
// single mongod into a one-member replica set, which MongoDB needs for multi-document
// transactions, then wait until it is a writable primary. Running it again changes nothing.
const name = process.env.MONGO_REPLICA_SET || "rs0";
const member = process.env.MONGO_MEMBER_HOST || "mongo:27017";

try {
  const status = rs.status();
  print(`replica set ${status.set} is already initiated`);
} catch (error) {
  if (error.codeName !== "NotYetInitialized") {
    throw error;
  }
  // The member's address is the one the application containers resolve, not localhost.
  rs.initiate({ _id: name, members: [{ _id: 0, host: member }] });
  print(`replica set ${name} initiated with ${member}`);
}

for (let attempt = 0; attempt < 60; attempt++) {
  if (db.hello().isWritablePrimary) {
    print(`replica set ${name} has a primary`);
    quit(0);
  }
  sleep(1000);
}
print(`replica set ${name} has no primary after 60 s`);
quit(1);
