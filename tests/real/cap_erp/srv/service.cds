using erp from '../db/schema';
service ErpService @(path: '/odata/v4/erp') {
  entity SalesOrders as projection on erp.SalesOrders;
  entity SalesOrderItems as projection on erp.SalesOrderItems;
}
